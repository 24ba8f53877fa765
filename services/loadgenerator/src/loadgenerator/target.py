"""The system under load: where its APIs answer and how to sign the tokens they accept."""

from __future__ import annotations

from dataclasses import dataclass

from chassis import mint_local_token

TOKEN_TTL = 4 * 3600


@dataclass(frozen=True)
class Target:
    catalog_url: str
    ordering_url: str
    # The services' local HS256 key (FOLIO_AUTH_LOCAL_SECRET): the generator signs its own tokens.
    secret: str

    def admin_token(self) -> str:
        return mint_local_token(self.secret, "loadgenerator-admin", roles=["admin"], ttl=TOKEN_TTL)

    def customer_token(self, subject: str) -> str:
        email = f"{subject}@bench.folio.test"
        return mint_local_token(self.secret, subject, email=email, roles=["customer"], ttl=TOKEN_TTL)

    def describe(self) -> str:
        return f"catalog {self.catalog_url}, ordering {self.ordering_url}"
