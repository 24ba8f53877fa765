"""What queries answer: shapes for the reader, never the write model itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar
from uuid import UUID

from rating.domain.feedback import MAX_STARS, MIN_STARS, Feedback

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FeedbackView:
    id: UUID
    book_id: UUID
    customer_id: str
    stars: int
    comment: str | None
    verified_purchase: bool
    version: int
    submitted_at: datetime

    @classmethod
    def of(cls, feedback: Feedback) -> FeedbackView:
        if feedback.stars is None:
            raise ValueError("deleted feedback has no view")
        return cls(
            id=feedback.id,
            book_id=feedback.book_id,
            customer_id=feedback.customer_id,
            stars=feedback.stars,
            comment=feedback.comment,
            verified_purchase=feedback.verified_purchase,
            version=feedback.version,
            submitted_at=feedback.submitted_at,
        )


@dataclass(frozen=True, slots=True)
class Slice(Generic[T]):
    """One page of results and how many there are across all pages."""

    items: tuple[T, ...]
    total: int


@dataclass(frozen=True, slots=True)
class BookFeedbackQuery:
    book_id: UUID
    offset: int = 0
    limit: int = 20
    # Verified purchases before the rest, each group newest first.
    verified_first: bool = False


def _no_stars() -> dict[int, int]:
    return dict.fromkeys(range(MIN_STARS, MAX_STARS + 1), 0)


@dataclass(frozen=True, slots=True)
class RatingSummary:
    book_id: UUID
    count: int = 0
    # Every star value from 1 to 5 is present, with 0 where nobody chose it.
    distribution: dict[int, int] = field(default_factory=_no_stars)

    @property
    def average(self) -> Decimal | None:
        """The mean of the stars to two decimals; None without feedback."""
        if self.count == 0:
            return None
        total = sum(stars * count for stars, count in self.distribution.items())
        return (Decimal(total) / Decimal(self.count)).quantize(Decimal("0.01"))

    @classmethod
    def of_counts(cls, book_id: UUID, counts: dict[int, int]) -> RatingSummary:
        distribution = _no_stars()
        distribution.update(counts)
        return cls(book_id=book_id, count=sum(distribution.values()), distribution=distribution)


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    feedback: FeedbackView
    # True when the customer had no live feedback on the book before (first, or given again after a deletion).
    created: bool
    # False when the submission repeated what was there.
    changed: bool
