"""What rating's worker consumes: the catalog's book events (the replica) and completed orders.

Queues are ``rating.<handler>``; the chassis gives each delivery its inbox claim and unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence

from chassis import Subscription
from contracts.catalog import BookCreated, BookDeleted
from contracts.ordering import OrderCompleted
from rating.adapters.unit_of_work import RatingUnitOfWork
from rating.application import purchase_handlers, replica_handlers
from rating.application.commands import RecordBookCreated, RecordBookDeleted, RecordOrderCompleted


async def on_book_event(message: BookCreated | BookDeleted, uow: RatingUnitOfWork) -> None:
    if isinstance(message, BookCreated):
        await replica_handlers.record_book_created(
            RecordBookCreated(message.book_id, message.occurred_at), uow
        )
    else:
        await replica_handlers.record_book_deleted(
            RecordBookDeleted(message.book_id, message.occurred_at), uow
        )


async def on_order_completed(message: OrderCompleted, uow: RatingUnitOfWork) -> None:
    command = RecordOrderCompleted(
        order_id=message.order_id,
        customer_id=message.customer_id,
        book_ids=tuple(message.book_ids),
        completed_at=message.completed_at,
    )
    await purchase_handlers.record_order_completed(command, uow)


BOOK_REPLICA = "book_replica"
VERIFIED_PURCHASES = "verified_purchases"


def subscriptions() -> Sequence[Subscription[RatingUnitOfWork]]:
    return (
        Subscription(BOOK_REPLICA, (BookCreated, BookDeleted), on_book_event),
        Subscription(VERIFIED_PURCHASES, (OrderCompleted,), on_order_completed),
    )
