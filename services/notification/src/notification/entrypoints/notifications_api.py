"""``/api/v1/notifications``: the e-mails sent to a customer or caused by an order, newest first.

A customer sees only their own (the token's subject); asking for another customer's is 403. An admin sees
any, filtered or not.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from chassis import CurrentCaller, Page, Pagination
from notification.application.queries import ListNotifications, Reader, list_notifications
from notification.entrypoints.dependencies import Uow
from notification.entrypoints.problems import as_problems
from notification.entrypoints.schemas import NotificationOut

PREFIX = "/api/v1/notifications"


def notifications_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["notifications"])

    @router.get("", response_model=Page[NotificationOut])
    async def list_sent(
        caller: CurrentCaller,
        uow: Uow,
        paging: Pagination,
        customer_id: Annotated[
            str | None, Query(min_length=1, description="Whose notifications; a customer's own by default")
        ] = None,
        order_id: Annotated[UUID | None, Query(description="Only those caused by this order")] = None,
    ) -> Page[NotificationOut]:
        """Notifications sent (or being sent) to a customer, or caused by an order."""
        query = ListNotifications(
            reader=Reader(caller.subject, is_admin=caller.is_admin),
            customer_id=customer_id,
            order_id=order_id,
            offset=paging.offset,
            limit=paging.limit,
        )
        with as_problems():
            views, total = await list_notifications(query, uow)
        return Page.of([NotificationOut.of(v) for v in views], total=total, params=paging)

    return router
