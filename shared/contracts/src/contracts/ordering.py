"""Messages owned by ordering: the life of an order."""

from __future__ import annotations

from typing import ClassVar, Self
from uuid import UUID

from pydantic import Field, model_validator

from contracts.base import Event
from contracts.lines import OrderLine, PricedLine, check_total
from contracts.money import Money
from contracts.values import Email, NonEmptyStr, UtcDateTime

__all__ = ["OrderCancelled", "OrderCompleted", "OrderConfirmed", "OrderPlaced"]


class _OrderEvent(Event):
    OWNER: ClassVar[str] = "ordering"
    SUBJECT: ClassVar[str] = "order_id"

    order_id: UUID
    # The subject of the customer's access token.
    customer_id: NonEmptyStr
    customer_email: Email


class OrderPlaced(_OrderEvent):
    """A customer placed an order; stock is not yet reserved."""

    TYPE: ClassVar[str] = "folio.ordering.order-placed.v1"

    lines: list[OrderLine] = Field(min_length=1)
    placed_at: UtcDateTime


class OrderConfirmed(_OrderEvent):
    """The catalog reserved every line; the order is priced and confirmed."""

    TYPE: ClassVar[str] = "folio.ordering.order-confirmed.v1"

    lines: list[PricedLine] = Field(min_length=1)
    total: Money
    confirmed_at: UtcDateTime

    @model_validator(mode="after")
    def _total_is_sum_of_lines(self) -> Self:
        check_total(self.lines, self.total)
        return self


class OrderCancelled(_OrderEvent):
    """The order ended without a sale: stock was refused (``rejected``), or it was cancelled or given up."""

    TYPE: ClassVar[str] = "folio.ordering.order-cancelled.v1"

    reason: NonEmptyStr
    rejected: bool
    cancelled_at: UtcDateTime


class OrderCompleted(_OrderEvent):
    """The order was fulfilled; its customer has bought these books."""

    TYPE: ClassVar[str] = "folio.ordering.order-completed.v1"

    book_ids: list[UUID]
    total: Money
    completed_at: UtcDateTime
