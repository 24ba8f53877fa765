"""Who is calling: the verified identity a request handler receives."""

from __future__ import annotations

from dataclasses import dataclass

ADMIN = "admin"
CUSTOMER = "customer"


@dataclass(frozen=True, slots=True)
class Caller:
    """The token's subject, its email when the issuer sent one, and its roles (``admin``, ``customer``)."""

    subject: str
    email: str | None = None
    roles: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    def has_role(self, role: str) -> bool:
        return role in self.roles
