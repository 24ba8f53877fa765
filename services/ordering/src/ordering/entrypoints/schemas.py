"""The HTTP API's request and response bodies."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, PlainSerializer, StrictInt

from chassis import RequestBody
from ordering.application.views import HistoryEntry, OrderDetails, OrderSummary
from ordering.domain.lines import OrderLine
from ordering.domain.order import MAX_QUANTITY

# Money travels as a decimal string, never a float.
Amount = Annotated[Decimal, PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json")]


class LineIn(RequestBody):
    book_id: UUID
    # Strict: true is not a quantity of one.
    quantity: StrictInt = Field(ge=1, le=MAX_QUANTITY)


class PlaceOrderIn(RequestBody):
    """The books to order; who orders comes from the access token, never from here."""

    lines: list[LineIn] = Field(min_length=1, max_length=100)

    def domain_lines(self) -> list[OrderLine]:
        return [OrderLine(line.book_id, line.quantity) for line in self.lines]


class MoneyOut(BaseModel):
    amount: Amount
    currency: str


class LineOut(BaseModel):
    book_id: UUID
    quantity: int
    unit_price: MoneyOut | None


class OrderOut(BaseModel):
    id: UUID
    customer_id: str
    customer_email: str
    status: str
    lines: list[LineOut]
    total: MoneyOut | None
    reason: str | None
    cancel_requested: bool = Field(
        description="Cancelled before the catalog answered: the cancel is applied when it does"
    )
    placed_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, order: OrderDetails) -> OrderOut:
        return cls(
            id=order.id,
            customer_id=order.customer_id,
            customer_email=order.customer_email,
            status=order.status,
            lines=[
                LineOut(
                    book_id=line.book_id,
                    quantity=line.quantity,
                    unit_price=_money(line.unit_price, line.currency),
                )
                for line in order.lines
            ],
            total=_money(order.total_amount, order.currency),
            reason=order.reason,
            cancel_requested=order.cancel_requested,
            placed_at=order.placed_at,
            updated_at=order.updated_at,
        )


class OrderAccepted(BaseModel):
    """The order is recorded; poll its Location to see the catalog's answer."""

    id: UUID
    status: str


class OrderSummaryOut(BaseModel):
    id: UUID
    customer_id: str
    status: str
    total: MoneyOut | None
    item_count: int
    placed_at: datetime
    last_change_at: datetime

    @classmethod
    def of(cls, summary: OrderSummary) -> OrderSummaryOut:
        return cls(
            id=summary.id,
            customer_id=summary.customer_id,
            status=summary.status,
            total=_money(summary.total_amount, summary.currency),
            item_count=summary.item_count,
            placed_at=summary.placed_at,
            last_change_at=summary.last_change_at,
        )


class HistoryEntryOut(BaseModel):
    at: datetime
    change: str
    detail: str
    status: str
    saga_state: str
    cause_type: str = Field(description="A message type, `http` for a request, or `deadline`")
    cause_id: str | None = Field(description="The causing message's id, or the requesting subject")

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryEntryOut:
        return cls(
            at=entry.at,
            change=entry.change,
            detail=entry.detail,
            status=entry.status,
            saga_state=entry.saga_state,
            cause_type=entry.cause_type,
            cause_id=entry.cause_id,
        )


class TimelineOut(BaseModel):
    order_id: UUID
    entries: list[HistoryEntryOut]


def _money(amount: Decimal | None, currency: str | None) -> MoneyOut | None:
    if amount is None or currency is None:
        return None
    return MoneyOut(amount=amount, currency=currency)
