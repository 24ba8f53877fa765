"""Between the bus and the domain: order messages in (which e-mail, with what), notification events out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import singledispatch
from typing import Any

from chassis import Outgoing
from contracts import notification as wire
from contracts.base import Message
from contracts.money import Money
from contracts.ordering import OrderCancelled, OrderCompleted, OrderConfirmed
from notification.domain import events

OrderEmailMessage = OrderConfirmed | OrderCancelled | OrderCompleted
ORDER_EMAIL_MESSAGES: tuple[type[Message], ...] = (OrderConfirmed, OrderCancelled, OrderCompleted)


@dataclass(frozen=True, slots=True)
class EmailRequest:
    """Which template an order message asks for, and the values it is rendered with."""

    template: str
    context: dict[str, Any]


def money(value: Money) -> str:
    """``12.50 EUR``; whole amounts get their cents (``5.00 EUR``), finer ones are left as they came."""
    amount = value.amount
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        amount = amount.quantize(Decimal("0.01"))
    return f"{amount:f} {value.currency}"


def when(value: datetime) -> str:
    return value.strftime("%d %B %Y, %H:%M UTC")


def email_request(message: OrderEmailMessage) -> EmailRequest:
    order_id = str(message.order_id)
    context: dict[str, Any]
    match message:
        case OrderConfirmed():
            lines = [
                {
                    "book_id": str(line.book_id),
                    "quantity": line.quantity,
                    "unit_price": money(line.unit_price),
                    "subtotal": money(line.subtotal),
                }
                for line in message.lines
            ]
            context = {
                "order_id": order_id,
                "lines": lines,
                "total": money(message.total),
                "confirmed_at": when(message.confirmed_at),
            }
            return EmailRequest("order-confirmed", context)
        case OrderCancelled():
            context = {
                "order_id": order_id,
                "reason": message.reason,
                "rejected": message.rejected,
                "cancelled_at": when(message.cancelled_at),
            }
            return EmailRequest("order-cancelled", context)
        case OrderCompleted():
            context = {
                "order_id": order_id,
                "book_count": len(message.book_ids),
                "total": money(message.total),
                "completed_at": when(message.completed_at),
            }
            return EmailRequest("order-completed", context)


def _fields(event: events.NotificationEvent) -> dict[str, Any]:
    return {
        "notification_id": event.notification_id,
        "source_message_id": event.source_message_id,
        "source_type": event.source_type,
        "order_id": event.order_id,
        "customer_id": event.customer_id,
        "recipient": event.recipient,
        "template": event.template,
    }


# Domain events that stay inside notification; any other event without a mapping is a TypeError.
PRIVATE_EVENTS: tuple[type, ...] = ()


@singledispatch
def to_message(event: object) -> Message | Outgoing | None:
    """The message ``event`` becomes on the bus; None for a private event."""
    if isinstance(event, PRIVATE_EVENTS):
        return None
    # An event nobody mapped is a mistake, not a private event: it would vanish without a trace.
    raise TypeError(f"no message for {type(event).__name__}")


def _caused_by_its_source(message: wire.NotificationSent | wire.NotificationFailed) -> Outgoing:
    # The sender runs outside any delivery: the outcome of an e-mail is caused by the order message that asked
    # for it, and belongs to that order's workflow.
    return Outgoing(
        message, correlation_id=str(message.order_id), causation_id=str(message.source_message_id)
    )


@to_message.register
def _(event: events.NotificationSent) -> Outgoing:
    return _caused_by_its_source(wire.NotificationSent(**_fields(event), sent_at=event.at))


@to_message.register
def _(event: events.NotificationFailed) -> Outgoing:
    failed = wire.NotificationFailed(
        **_fields(event), reason=event.reason, attempts=event.attempts, failed_at=event.at
    )
    return _caused_by_its_source(failed)
