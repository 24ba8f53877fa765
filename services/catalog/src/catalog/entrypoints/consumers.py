"""What the catalog's worker consumes: the saga's stock commands and rating's feedback events.

Queues are ``catalog.<handler>``; the chassis gives each delivery its inbox claim and unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence

from catalog.adapters.unit_of_work import CatalogUnitOfWork
from catalog.application import commands, rating_handlers, stock_handlers
from catalog.domain.reservation import RequestedLine
from chassis import Subscription
from contracts.catalog import ReleaseStock, ReserveStock
from contracts.rating import FeedbackDeleted, FeedbackSubmitted


async def on_reserve_stock(message: ReserveStock, uow: CatalogUnitOfWork) -> None:
    lines = tuple(RequestedLine(line.book_id, line.quantity) for line in message.lines)
    await stock_handlers.reserve_stock(commands.ReserveStock(message.order_id, lines), uow)


async def on_release_stock(message: ReleaseStock, uow: CatalogUnitOfWork) -> None:
    await stock_handlers.release_stock(commands.ReleaseStock(message.order_id, message.reason), uow)


async def on_feedback(message: FeedbackSubmitted | FeedbackDeleted, uow: CatalogUnitOfWork) -> None:
    if isinstance(message, FeedbackSubmitted):
        submitted = commands.RecordFeedbackSubmitted(
            feedback_id=message.feedback_id,
            book_id=message.book_id,
            customer_id=message.customer_id,
            stars=message.stars,
            version=message.version,
        )
        await rating_handlers.record_feedback_submitted(submitted, uow)
    else:
        deleted = commands.RecordFeedbackDeleted(
            feedback_id=message.feedback_id,
            book_id=message.book_id,
            customer_id=message.customer_id,
            version=message.version,
        )
        await rating_handlers.record_feedback_deleted(deleted, uow)


def subscriptions() -> Sequence[Subscription[CatalogUnitOfWork]]:
    return (
        Subscription("reserve_stock", (ReserveStock,), on_reserve_stock),
        Subscription("release_stock", (ReleaseStock,), on_release_stock),
        Subscription("rating_projection", (FeedbackSubmitted, FeedbackDeleted), on_feedback),
    )
