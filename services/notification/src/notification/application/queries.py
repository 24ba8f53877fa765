"""Reading notifications: a customer sees those sent to them, an admin any."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from notification.application.errors import NotPermitted
from notification.application.ports import NotificationUow
from notification.application.views import NotificationView


@dataclass(frozen=True, slots=True)
class Reader:
    """Who asks: the token's subject, and whether it holds the admin role."""

    subject: str
    is_admin: bool = False


@dataclass(frozen=True, slots=True)
class ListNotifications:
    reader: Reader
    customer_id: str | None
    order_id: UUID | None
    offset: int
    limit: int


async def list_notifications(
    query: ListNotifications, uow: NotificationUow
) -> tuple[Sequence[NotificationView], int]:
    """One page of notifications, newest first, with the total; a customer's list is always their own."""
    customer_id = query.customer_id
    if not query.reader.is_admin:
        if customer_id is not None and customer_id != query.reader.subject:
            raise NotPermitted("a customer sees only the notifications sent to them")
        customer_id = query.reader.subject
    async with uow:
        return await uow.reads.notifications(
            customer_id=customer_id, order_id=query.order_id, offset=query.offset, limit=query.limit
        )
