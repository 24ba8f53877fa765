"""Messages owned by catalog: its book and stock events, and the stock commands it accepts."""

from __future__ import annotations

from typing import ClassVar, Literal, Self
from uuid import UUID

from pydantic import Field, model_validator

from contracts.base import Command, Event
from contracts.lines import DistinctOrderLines, OrderLine, PricedLine, check_total
from contracts.money import Money
from contracts.values import Isbn, NonEmptyStr, Part, UtcDateTime

__all__ = [
    "BookCreated",
    "BookDeleted",
    "BookUpdated",
    "OrderLine",
    "PricedLine",
    "RejectionReason",
    "ReleaseStock",
    "ReserveStock",
    "StockReleased",
    "StockReservationRejected",
    "StockReserved",
]


class _CatalogEvent(Event):
    OWNER: ClassVar[str] = "catalog"


class _CatalogCommand(Command):
    OWNER: ClassVar[str] = "catalog"


class _BookState(_CatalogEvent):
    SUBJECT: ClassVar[str] = "book_id"

    book_id: UUID
    isbn: Isbn
    title: NonEmptyStr
    author_names: list[NonEmptyStr]
    category: str | None = None
    price: Money
    occurred_at: UtcDateTime


class BookCreated(_BookState):
    """A book was added to the catalog."""

    TYPE: ClassVar[str] = "folio.catalog.book-created.v1"


class BookUpdated(_BookState):
    """A book's details or price changed; carries the whole new state."""

    TYPE: ClassVar[str] = "folio.catalog.book-updated.v1"


class BookDeleted(_CatalogEvent):
    """A book was removed from the catalog; it can no longer be ordered."""

    TYPE: ClassVar[str] = "folio.catalog.book-deleted.v1"
    SUBJECT: ClassVar[str] = "book_id"

    book_id: UUID
    occurred_at: UtcDateTime


class StockReserved(_CatalogEvent):
    """Every line of an order is held for it, priced at the catalog's current prices."""

    TYPE: ClassVar[str] = "folio.catalog.stock-reserved.v1"
    SUBJECT: ClassVar[str] = "order_id"

    order_id: UUID
    lines: list[PricedLine] = Field(min_length=1)
    total: Money

    @model_validator(mode="after")
    def _total_is_sum_of_lines(self) -> Self:
        check_total(self.lines, self.total)
        return self


class RejectionReason(Part):
    """Why one line of an order could not be reserved."""

    book_id: UUID
    reason: Literal["unknown_book", "book_deleted", "out_of_stock"]
    requested: int = Field(ge=1)
    available: int = Field(ge=0)


class StockReservationRejected(_CatalogEvent):
    """An order could not be reserved; nothing is held for it."""

    TYPE: ClassVar[str] = "folio.catalog.stock-reservation-rejected.v1"
    SUBJECT: ClassVar[str] = "order_id"

    order_id: UUID
    reasons: list[RejectionReason] = Field(min_length=1)


class StockReleased(_CatalogEvent):
    """An order's reservation was given back, or there was none (``released`` false)."""

    TYPE: ClassVar[str] = "folio.catalog.stock-released.v1"
    SUBJECT: ClassVar[str] = "order_id"

    order_id: UUID
    released: bool
    lines: list[OrderLine]


class ReserveStock(_CatalogCommand):
    """Hold every line of an order, or none of them. Idempotent per order id."""

    TYPE: ClassVar[str] = "folio.catalog.reserve-stock.v1"
    SUBJECT: ClassVar[str] = "order_id"

    order_id: UUID
    lines: DistinctOrderLines


class ReleaseStock(_CatalogCommand):
    """Give back whatever is held for an order. Idempotent; answered even when nothing is held."""

    TYPE: ClassVar[str] = "folio.catalog.release-stock.v1"
    SUBJECT: ClassVar[str] = "order_id"

    order_id: UUID
    reason: NonEmptyStr
