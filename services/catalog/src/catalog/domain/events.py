"""What happened in the catalog, as the aggregates record it; adapters turn these into messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from catalog.domain.money import Money


@dataclass(frozen=True, slots=True)
class BookCreated:
    book_id: UUID
    isbn: str
    title: str
    author_names: tuple[str, ...]
    category: str | None
    price: Money
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class BookUpdated:
    book_id: UUID
    isbn: str
    title: str
    author_names: tuple[str, ...]
    category: str | None
    price: Money
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class BookDeleted:
    book_id: UUID
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class BookRestocked:
    """Stays inside the catalog: no other service follows stock levels."""

    book_id: UUID
    quantity: int
    stock: int
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class ReservedLine:
    book_id: UUID
    quantity: int
    unit_price: Money

    @property
    def subtotal(self) -> Money:
        return self.unit_price.times(self.quantity)


RejectionKind = Literal["unknown_book", "book_deleted", "out_of_stock"]


@dataclass(frozen=True, slots=True)
class Rejection:
    book_id: UUID
    reason: RejectionKind
    requested: int
    available: int


@dataclass(frozen=True, slots=True)
class ReleasedLine:
    book_id: UUID
    quantity: int


@dataclass(frozen=True, slots=True)
class StockReserved:
    order_id: UUID
    lines: tuple[ReservedLine, ...]
    total: Money


@dataclass(frozen=True, slots=True)
class StockReservationRejected:
    order_id: UUID
    reasons: tuple[Rejection, ...]


@dataclass(frozen=True, slots=True)
class StockReleased:
    order_id: UUID
    released: bool
    lines: tuple[ReleasedLine, ...]
