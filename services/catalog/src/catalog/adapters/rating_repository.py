"""The rating projection: one row per customer and book, and each book's totals derived from them."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.adapters.tables import book_ratings, customer_ratings
from catalog.domain.ratings import CustomerRating


class SqlRatings:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_book(self, book_id: UUID) -> None:
        # The totals row doubles as the book's lock: it must exist before it can be locked.
        await self._session.execute(
            insert(book_ratings).values(book_id=book_id).on_conflict_do_nothing(index_elements=["book_id"])
        )
        await self._session.execute(
            select(book_ratings.c.book_id).where(book_ratings.c.book_id == book_id).with_for_update()
        )

    async def get(self, book_id: UUID, customer_id: str) -> CustomerRating | None:
        row = (
            await self._session.execute(
                select(customer_ratings).where(
                    customer_ratings.c.book_id == book_id, customer_ratings.c.customer_id == customer_id
                )
            )
        ).first()
        if row is None:
            return None
        return CustomerRating(row.book_id, row.customer_id, row.feedback_id, row.stars, row.version)

    async def put(self, rating: CustomerRating) -> None:
        values = {
            "feedback_id": rating.feedback_id,
            "stars": rating.stars,
            "version": rating.version,
            "deleted": rating.deleted,
            "updated_at": func.now(),
        }
        await self._session.execute(
            insert(customer_ratings)
            .values(book_id=rating.book_id, customer_id=rating.customer_id, **values)
            .on_conflict_do_update(index_elements=["book_id", "customer_id"], set_=values)
        )

    async def refresh_totals(self, book_id: UUID) -> None:
        # lock_book created the totals row; recounting (rather than adding deltas) heals any drift.
        counted = customer_ratings.c.book_id == book_id, customer_ratings.c.deleted.is_(False)
        await self._session.execute(
            update(book_ratings)
            .where(book_ratings.c.book_id == book_id)
            .values(
                rating_count=select(func.count()).where(*counted).scalar_subquery(),
                rating_sum=select(func.coalesce(func.sum(customer_ratings.c.stars), 0))
                .where(*counted)
                .scalar_subquery(),
            )
        )
