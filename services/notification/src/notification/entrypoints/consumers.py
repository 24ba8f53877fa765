"""The worker's one subscription: ``notification.order_emails`` records an e-mail for each order message.

Recording is all it does (in the delivery's own transaction, beside the inbox row); the sender sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from chassis import Subscription, current_traceparent
from contracts.envelope import new_id
from notification.adapters import templates
from notification.adapters.message_mapping import ORDER_EMAIL_MESSAGES, OrderEmailMessage, email_request
from notification.adapters.unit_of_work import NotificationUnitOfWork
from notification.application.commands import RecordNotification
from notification.application.recording_handlers import record_notification

HANDLER = "order_emails"


async def record_order_email(message: OrderEmailMessage, uow: NotificationUnitOfWork) -> None:
    cause = uow.cause
    if cause is None:
        raise RuntimeError("record_order_email runs only while a delivery is being handled")
    request = email_request(message)
    command = RecordNotification(
        notification_id=new_id(),
        source_message_id=cause.id,
        source_type=cause.type,
        order_id=message.order_id,
        customer_id=message.customer_id,
        recipient=message.customer_email,
        template=request.template,
        content=templates.render(request.template, request.context),
        at=datetime.now(UTC),
        traceparent=current_traceparent(),
    )
    await record_notification(command, uow)


def subscriptions() -> Sequence[Subscription[Any]]:
    return (Subscription(HANDLER, ORDER_EMAIL_MESSAGES, record_order_email),)
