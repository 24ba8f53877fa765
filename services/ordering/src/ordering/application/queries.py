"""Query handlers: an order's details and timeline, and the per-customer order summaries."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from ordering.application.commands import Actor
from ordering.application.errors import OrderNotFound
from ordering.application.ports import OrderingUow
from ordering.application.views import HistoryEntry, OrderDetails, OrderSummary
from ordering.domain.errors import NotPermitted


async def order_details(order_id: UUID, actor: Actor, uow: OrderingUow) -> OrderDetails:
    details = await uow.reads.order_details(order_id)
    if details is None or not (actor.is_admin or details.customer_id == actor.subject):
        raise OrderNotFound(order_id)
    return details


async def order_timeline(order_id: UUID, actor: Actor, uow: OrderingUow) -> Sequence[HistoryEntry]:
    await order_details(order_id, actor, uow)
    return await uow.history.timeline(order_id)


async def order_summaries(
    customer_id: str | None, actor: Actor, uow: OrderingUow, *, offset: int, limit: int
) -> tuple[Sequence[OrderSummary], int]:
    """A customer lists their own orders; an admin anyone's, or everyone's without ``customer_id``."""
    if not actor.is_admin and customer_id not in (None, actor.subject):
        raise NotPermitted(f"{actor.subject} may only list their own orders")
    wanted = customer_id if actor.is_admin else actor.subject
    return await uow.reads.summaries(customer_id=wanted, offset=offset, limit=limit)
