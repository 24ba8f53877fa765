"""Rating's read side: a book's feedback list and its summary, straight from the feedback table."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rating.adapters.tables import feedback
from rating.application.views import BookFeedbackQuery, FeedbackView, RatingSummary, Slice

_LIVE = feedback.c.deleted_at.is_(None)


class SqlReads:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def book_feedback(self, query: BookFeedbackQuery) -> Slice[FeedbackView]:
        of_book = (feedback.c.book_id == query.book_id) & _LIVE
        total = await self._session.scalar(select(func.count()).select_from(feedback).where(of_book))
        order = [feedback.c.submitted_at.desc(), feedback.c.id.desc()]
        if query.verified_first:
            order.insert(0, feedback.c.verified_purchase.desc())
        rows = (
            await self._session.execute(
                select(feedback).where(of_book).order_by(*order).offset(query.offset).limit(query.limit)
            )
        ).mappings()
        items = tuple(
            FeedbackView(
                id=row["id"],
                book_id=row["book_id"],
                customer_id=row["customer_id"],
                stars=row["stars"],
                comment=row["comment"],
                verified_purchase=row["verified_purchase"],
                version=row["version"],
                submitted_at=row["submitted_at"],
            )
            for row in rows
        )
        return Slice(items=items, total=total or 0)

    async def summary(self, book_id: UUID) -> RatingSummary:
        rows = await self._session.execute(
            select(feedback.c.stars, func.count())
            .where(feedback.c.book_id == book_id, _LIVE)
            .group_by(feedback.c.stars)
        )
        return RatingSummary.of_counts(book_id, {int(stars): int(count) for stars, count in rows})
