"""Between the domain and the bus: domain events and the saga's commands out, catalog replies in.

Every message about an order has the order id as its subject, which the unit of work also uses as the
correlation id when nothing else set one.
"""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from contracts import catalog as wire_catalog
from contracts import ordering as wire_ordering
from contracts.base import Message
from contracts.lines import OrderLine as WireLine
from contracts.lines import PricedLine as WirePricedLine
from contracts.money import Money as WireMoney
from ordering.domain import events, stock_commands, triggers
from ordering.domain.lines import OrderLine, PricedLine
from ordering.domain.money import Money


def _money(money: Money) -> WireMoney:
    return WireMoney(amount=money.amount, currency=money.currency)


def _lines(lines: tuple[OrderLine, ...]) -> list[WireLine]:
    return [WireLine(book_id=line.book_id, quantity=line.quantity) for line in lines]


def _customer(event: events.OrderEvent) -> dict[str, Any]:
    return {
        "order_id": event.order_id,
        "customer_id": event.customer_id,
        "customer_email": event.customer_email,
    }


# Domain events that stay inside ordering; any other event without a mapping is a TypeError.
PRIVATE_EVENTS: tuple[type, ...] = (
    # The saga's own step: OrderCancelled is published once the stock is released.
    events.OrderCancellationStarted,
)


@singledispatch
def to_message(event: object) -> Message | None:
    """The message an event or a command becomes on the bus; None for a private event."""
    if isinstance(event, PRIVATE_EVENTS):
        return None
    # An event nobody mapped is a mistake, not a private event: it would vanish without a trace.
    raise TypeError(f"no message for {type(event).__name__}")


@to_message.register
def _(event: events.OrderPlaced) -> Message:
    return wire_ordering.OrderPlaced(**_customer(event), lines=_lines(event.lines), placed_at=event.at)


@to_message.register
def _(event: events.OrderConfirmed) -> Message:
    lines = [
        WirePricedLine(book_id=x.book_id, quantity=x.quantity, unit_price=_money(x.unit_price))
        for x in event.lines
    ]
    return wire_ordering.OrderConfirmed(
        **_customer(event), lines=lines, total=_money(event.total), confirmed_at=event.at
    )


@to_message.register
def _(event: events.OrderRejected) -> Message:
    return wire_ordering.OrderCancelled(
        **_customer(event), reason=event.reason, rejected=True, cancelled_at=event.at
    )


@to_message.register
def _(event: events.OrderCancelled) -> Message:
    return wire_ordering.OrderCancelled(
        **_customer(event), reason=event.reason, rejected=False, cancelled_at=event.at
    )


@to_message.register
def _(event: events.OrderCompleted) -> Message:
    return wire_ordering.OrderCompleted(
        **_customer(event), book_ids=list(event.book_ids), total=_money(event.total), completed_at=event.at
    )


@to_message.register
def _(command: stock_commands.ReserveStock) -> Message:
    return wire_catalog.ReserveStock(order_id=command.order_id, lines=_lines(command.lines))


@to_message.register
def _(command: stock_commands.ReleaseStock) -> Message:
    return wire_catalog.ReleaseStock(order_id=command.order_id, reason=command.reason)


def stock_reserved(message: wire_catalog.StockReserved) -> triggers.StockReserved:
    return triggers.StockReserved(
        tuple(
            PricedLine(x.book_id, x.quantity, Money(x.unit_price.amount, x.unit_price.currency))
            for x in message.lines
        )
    )


def stock_rejected(message: wire_catalog.StockReservationRejected) -> triggers.StockReservationRejected:
    return triggers.StockReservationRejected(
        tuple(
            f"{x.reason} for book {x.book_id} (requested {x.requested}, available {x.available})"
            for x in message.reasons
        )
    )


def stock_released(message: wire_catalog.StockReleased) -> triggers.StockReleased:
    return triggers.StockReleased(released=message.released)
