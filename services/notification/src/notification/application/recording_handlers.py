"""Recording a notification: all a consumer does with a message, inside the message's own transaction.

Nothing is sent here. The notification row, unique per source message, is written in the same transaction
as the inbox row, so a redelivered message can never record a second notification (nor, therefore, cause a
second e-mail); the sender picks the row up once that transaction commits.
"""

from __future__ import annotations

import logging

from notification.application.commands import RecordNotification
from notification.application.ports import NotificationUow
from notification.domain.notification import Notification

log = logging.getLogger(__name__)


async def record_notification(command: RecordNotification, uow: NotificationUow) -> bool:
    """Record the e-mail asked for; False when this source message already has one (nothing changes).

    Runs in the caller's open unit of work, which commits it.
    """
    notification = Notification.record(
        notification_id=command.notification_id,
        source_message_id=command.source_message_id,
        source_type=command.source_type,
        order_id=command.order_id,
        customer_id=command.customer_id,
        recipient=command.recipient,
        template=command.template,
        content=command.content,
        at=command.at,
        traceparent=command.traceparent,
    )
    added = await uow.notifications.add(notification)
    if not added:
        # The inbox already stops redeliveries; this catches one arriving after its inbox row was pruned.
        log.info("message %s already has a notification; not recording another", command.source_message_id)
    return added
