"""The API's request and response bodies: what clients send and see, kept apart from the domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self
from uuid import UUID

from pydantic import BaseModel, Field, StrictInt, StrictStr

from chassis import RequestBody
from rating.application.views import FeedbackView, RatingSummary
from rating.domain.feedback import MAX_COMMENT, MAX_STARS, MIN_STARS


class FeedbackIn(RequestBody):
    """The customer comes from the access token, never from the body; unknown fields are refused."""

    # Strict: "4", 4.0 and true are not a number of stars.
    stars: Annotated[StrictInt, Field(ge=MIN_STARS, le=MAX_STARS, examples=[4])]
    comment: Annotated[StrictStr | None, Field(max_length=MAX_COMMENT, examples=["A quiet, wise book."])] = (
        None
    )


class FeedbackOut(BaseModel):
    """Feedback as anyone may read it (without who gave it)."""

    id: UUID
    book_id: UUID
    stars: int
    comment: str | None
    verified_purchase: bool = Field(description="The customer bought this book in a completed order")
    version: int = Field(description="Grows with every change of this feedback")
    submitted_at: datetime

    @classmethod
    def of(cls, view: FeedbackView) -> Self:
        return cls(
            id=view.id,
            book_id=view.book_id,
            stars=view.stars,
            comment=view.comment,
            verified_purchase=view.verified_purchase,
            version=view.version,
            submitted_at=view.submitted_at,
        )


class MyFeedbackOut(FeedbackOut):
    """The caller's own feedback."""

    customer_id: str

    @classmethod
    def of(cls, view: FeedbackView) -> Self:
        return cls.model_validate({**FeedbackOut.of(view).model_dump(), "customer_id": view.customer_id})


class SummaryOut(BaseModel):
    book_id: UUID
    count: int = Field(description="Live feedbacks on the book")
    average: float | None = Field(description="Mean stars to two decimals; null without feedback")
    distribution: dict[str, int] = Field(
        description="How many feedbacks gave each number of stars, 1 to 5",
        examples=[{"1": 0, "2": 1, "3": 0, "4": 3, "5": 2}],
    )

    @classmethod
    def of(cls, summary: RatingSummary) -> Self:
        average = summary.average
        return cls(
            book_id=summary.book_id,
            count=summary.count,
            average=float(average) if average is not None else None,
            distribution={str(stars): count for stars, count in sorted(summary.distribution.items())},
        )
