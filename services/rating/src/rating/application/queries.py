"""Reading feedback: a book's list, its summary, and a customer's own feedback."""

from __future__ import annotations

from uuid import UUID

from rating.application.ports import RatingUow
from rating.application.views import (
    BookFeedbackQuery,
    FeedbackView,
    RatingSummary,
    Slice,
)
from rating.domain.books import open_for_feedback
from rating.domain.errors import NoFeedback


async def _known_book(book_id: UUID, uow: RatingUow) -> None:
    # A book the catalog does not show (unknown, or deleted) has no feedback to show either.
    open_for_feedback(book_id, await uow.books.get(book_id))


async def book_feedback(query: BookFeedbackQuery, uow: RatingUow) -> Slice[FeedbackView]:
    """A book's live feedback, newest first (verified purchases first on request)."""
    await _known_book(query.book_id, uow)
    return await uow.reads.book_feedback(query)


async def book_summary(book_id: UUID, uow: RatingUow) -> RatingSummary:
    await _known_book(book_id, uow)
    return await uow.reads.summary(book_id)


async def my_feedback(book_id: UUID, customer_id: str, uow: RatingUow) -> FeedbackView:
    """The customer's own live feedback on the book (even once the book is deleted)."""
    feedback = await uow.feedback.get(book_id, customer_id)
    if feedback is None or feedback.deleted:
        raise NoFeedback(book_id)
    return FeedbackView.of(feedback)
