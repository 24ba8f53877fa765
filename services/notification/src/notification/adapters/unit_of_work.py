"""Notification's unit of work: the chassis one with the notification repository and delivery policy."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis.messaging import context
from chassis.uow import UnitOfWork
from contracts import notification as wire
from notification.adapters.message_mapping import to_message
from notification.adapters.reads import SqlReads
from notification.adapters.repository import SqlNotifications
from notification.domain.delivery import DeliveryPolicy

SOURCE = "/folio/notification"


class NotificationUnitOfWork(UnitOfWork):
    notifications: SqlNotifications
    reads: SqlReads

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], *, policy: DeliveryPolicy) -> None:
        super().__init__(session_factory, source=SOURCE, event_mapper=to_message)
        self.policy = policy

    def _start(self) -> None:
        self.notifications = SqlNotifications(self.session)
        self.reads = SqlReads(self.session)

    async def flush_outbox(self) -> int:
        if context.current().message_id is not None:
            return await super().flush_outbox()
        # The sender runs outside any delivery, so nothing names a cause; NotificationSent/Failed are caused
        # by the order message that asked for the e-mail, and belong to that order's workflow.
        written = 0
        for message, correlation_id in list(self.collect_messages()):
            cause = context.MessageContext()
            if isinstance(message, wire.NotificationSent | wire.NotificationFailed):
                cause = context.MessageContext(
                    message.source_message_id, message.source_type, str(message.order_id)
                )
            with context.bound(cause):
                self.send(message, correlation_id=correlation_id)
                written += await super().flush_outbox()
        return written


def uow_factory(
    sessions: async_sessionmaker[AsyncSession], policy: DeliveryPolicy
) -> Callable[[], NotificationUnitOfWork]:
    return lambda: NotificationUnitOfWork(sessions, policy=policy)
