"""What happened to feedback, as the aggregate records it; adapters turn these into messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class FeedbackSubmitted:
    """A customer's feedback on a book as it now stands (new, replaced, or newly verified)."""

    feedback_id: UUID
    book_id: UUID
    customer_id: str
    stars: int
    comment: str | None
    verified_purchase: bool
    version: int
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class FeedbackDeleted:
    feedback_id: UUID
    book_id: UUID
    customer_id: str
    version: int
    deleted_at: datetime
