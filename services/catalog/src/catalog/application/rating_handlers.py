"""Keep the book view's rating columns in step with rating's feedback events."""

from __future__ import annotations

from catalog.application.commands import RecordFeedbackDeleted, RecordFeedbackSubmitted
from catalog.application.ports import CatalogUow
from catalog.domain.ratings import CustomerRating


async def _apply(rating: CustomerRating, uow: CatalogUow) -> bool:
    await uow.ratings.lock_book(rating.book_id)
    if not rating.supersedes(await uow.ratings.get(rating.book_id, rating.customer_id)):
        # Stale or repeated: rating has already told us something newer.
        return False
    await uow.ratings.put(rating)
    await uow.ratings.refresh_totals(rating.book_id)
    return True


async def record_feedback_submitted(command: RecordFeedbackSubmitted, uow: CatalogUow) -> bool:
    """True when the event changed the projection."""
    rating = CustomerRating(
        book_id=command.book_id,
        customer_id=command.customer_id,
        feedback_id=command.feedback_id,
        stars=command.stars,
        version=command.version,
    )
    return await _apply(rating, uow)


async def record_feedback_deleted(command: RecordFeedbackDeleted, uow: CatalogUow) -> bool:
    rating = CustomerRating.withdrawn(
        command.book_id, command.customer_id, command.feedback_id, command.version
    )
    return await _apply(rating, uow)
