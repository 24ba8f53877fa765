"""What the queries answer: shapes for the reader, never the write model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID


@dataclass(frozen=True, slots=True)
class LineView:
    book_id: UUID
    quantity: int
    unit_price: Decimal | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class OrderDetails:
    id: UUID
    customer_id: str
    customer_email: str
    status: str
    lines: tuple[LineView, ...]
    total_amount: Decimal | None
    currency: str | None
    reason: str | None
    # The customer asked to cancel before the catalog answered: applied when it does.
    cancel_requested: bool
    placed_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OrderSummary:
    id: UUID
    customer_id: str
    status: str
    total_amount: Decimal | None
    currency: str | None
    item_count: int
    placed_at: datetime
    last_change_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    change: str
    detail: str
    status: str
    saga_state: str
    cause_type: str
    cause_id: str | None
