"""Notification's unit of work: the chassis one with the notification repository and delivery policy."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis import UnitOfWork
from notification.adapters.message_mapping import to_message
from notification.adapters.reads import SqlReads
from notification.adapters.repositories import SqlNotifications
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


def uow_factory(
    sessions: async_sessionmaker[AsyncSession], policy: DeliveryPolicy
) -> Callable[[], NotificationUnitOfWork]:
    return lambda: NotificationUnitOfWork(sessions, policy=policy)
