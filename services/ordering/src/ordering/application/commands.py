"""The requests that change ordering, as plain values (the API builds them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from ordering.domain.lines import OrderLine


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    order_id: UUID
    customer_id: str
    customer_email: str
    lines: Sequence[OrderLine]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks, as far as the rules care: their id, and whether they are an admin."""

    subject: str
    is_admin: bool = False
