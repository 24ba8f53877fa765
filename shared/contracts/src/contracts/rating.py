"""Messages owned by rating: customers' feedback on books."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import Field

from contracts.base import Event
from contracts.values import NonEmptyStr, UtcDateTime

__all__ = ["FeedbackDeleted", "FeedbackSubmitted"]


class _FeedbackEvent(Event):
    OWNER: ClassVar[str] = "rating"
    SUBJECT: ClassVar[str] = "book_id"

    feedback_id: UUID
    book_id: UUID
    customer_id: NonEmptyStr
    # Grows with every change of this customer's feedback on this book: a consumer keeps the highest
    # version it has seen and ignores anything older, whatever order the events arrive in.
    version: int = Field(ge=1)


class FeedbackSubmitted(_FeedbackEvent):
    """A customer rated a book, or changed their rating."""

    TYPE: ClassVar[str] = "folio.rating.feedback-submitted.v1"

    stars: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)
    verified_purchase: bool
    submitted_at: UtcDateTime


class FeedbackDeleted(_FeedbackEvent):
    """A customer's feedback on a book was removed."""

    TYPE: ClassVar[str] = "folio.rating.feedback-deleted.v1"

    deleted_at: UtcDateTime
