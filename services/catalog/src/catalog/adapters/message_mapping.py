"""Catalog's domain events as the messages other services read; events that stay inside map to None."""

from __future__ import annotations

from functools import singledispatch

from catalog.domain import events
from catalog.domain.money import Money
from contracts import catalog as messages
from contracts.base import Message
from contracts.money import Money as WireMoney


def wire_money(money: Money) -> WireMoney:
    return WireMoney.of(money.amount, money.currency)


# Domain events that stay inside the catalog; any other event without a mapping is a TypeError.
PRIVATE_EVENTS: tuple[type, ...] = (
    # The stock figure is the catalog's own; BookUpdated carries what others replicate.
    events.BookRestocked,
)


@singledispatch
def to_message(event: object) -> Message | None:
    """The message ``event`` becomes on the bus; None for a private event."""
    if isinstance(event, PRIVATE_EVENTS):
        return None
    # An event nobody mapped is a mistake, not a private event: it would vanish without a trace.
    raise TypeError(f"no message for {type(event).__name__}")


@to_message.register
def _book_created(event: events.BookCreated) -> Message:
    return messages.BookCreated(
        book_id=event.book_id,
        isbn=event.isbn,
        title=event.title,
        author_names=list(event.author_names),
        category=event.category,
        price=wire_money(event.price),
        occurred_at=event.occurred_at,
    )


@to_message.register
def _book_updated(event: events.BookUpdated) -> Message:
    return messages.BookUpdated(
        book_id=event.book_id,
        isbn=event.isbn,
        title=event.title,
        author_names=list(event.author_names),
        category=event.category,
        price=wire_money(event.price),
        occurred_at=event.occurred_at,
    )


@to_message.register
def _book_deleted(event: events.BookDeleted) -> Message:
    return messages.BookDeleted(book_id=event.book_id, occurred_at=event.occurred_at)


@to_message.register
def _stock_reserved(event: events.StockReserved) -> Message:
    return messages.StockReserved(
        order_id=event.order_id,
        lines=[
            messages.PricedLine(
                book_id=line.book_id, quantity=line.quantity, unit_price=wire_money(line.unit_price)
            )
            for line in event.lines
        ],
        total=wire_money(event.total),
    )


@to_message.register
def _stock_reservation_rejected(event: events.StockReservationRejected) -> Message:
    return messages.StockReservationRejected(
        order_id=event.order_id,
        reasons=[
            messages.RejectionReason(
                book_id=reason.book_id,
                reason=reason.reason,
                requested=reason.requested,
                available=reason.available,
            )
            for reason in event.reasons
        ],
    )


@to_message.register
def _stock_released(event: events.StockReleased) -> Message:
    return messages.StockReleased(
        order_id=event.order_id,
        released=event.released,
        lines=[messages.OrderLine(book_id=line.book_id, quantity=line.quantity) for line in event.lines],
    )
