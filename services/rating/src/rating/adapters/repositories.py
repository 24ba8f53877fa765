"""Loading and saving rating's aggregates and records."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from rating.adapters import locks
from rating.adapters.tables import feedback, known_books, verified_purchases
from rating.domain.books import KnownBook
from rating.domain.feedback import Feedback
from rating.domain.purchases import VerifiedPurchase


def _feedback_of(row: RowMapping) -> Feedback:
    return Feedback(
        id=row["id"],
        book_id=row["book_id"],
        customer_id=row["customer_id"],
        stars=row["stars"],
        comment=row["comment"],
        verified_purchase=row["verified_purchase"],
        version=row["version"],
        submitted_at=row["submitted_at"],
        deleted_at=row["deleted_at"],
    )


def _feedback_state(item: Feedback) -> dict[str, object]:
    return {
        "stars": item.stars,
        "comment": item.comment,
        "verified_purchase": item.verified_purchase,
        "version": item.version,
        "submitted_at": item.submitted_at,
        "deleted_at": item.deleted_at,
    }


class SqlFeedbacks:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock(self, book_id: UUID, customer_id: str) -> None:
        await locks.lock(self._session, locks.FEEDBACK_SLOT, f"{book_id}/{customer_id}")

    async def get(self, book_id: UUID, customer_id: str) -> Feedback | None:
        row = (
            (
                await self._session.execute(
                    select(feedback).where(
                        feedback.c.book_id == book_id, feedback.c.customer_id == customer_id
                    )
                )
            )
            .mappings()
            .first()
        )
        return _feedback_of(row) if row is not None else None

    async def add(self, item: Feedback) -> None:
        await self._session.execute(
            insert(feedback).values(
                id=item.id, book_id=item.book_id, customer_id=item.customer_id, **_feedback_state(item)
            )
        )

    async def save(self, item: Feedback) -> None:
        # The version guard turns a lost update (a writer that skipped the lock) into an error, not a rewind.
        result = await self._session.execute(
            update(feedback)
            .where(feedback.c.id == item.id, feedback.c.version <= item.version)
            .values(**_feedback_state(item), updated_at=func.now())
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise RuntimeError(f"feedback {item.id} changed under us (now newer than version {item.version})")


class SqlKnownBooks:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock(self, book_id: UUID) -> None:
        await locks.lock(self._session, locks.KNOWN_BOOK, str(book_id))

    async def get(self, book_id: UUID) -> KnownBook | None:
        row = (
            (await self._session.execute(select(known_books).where(known_books.c.book_id == book_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return KnownBook(id=row["book_id"], created_at=row["created_at"], deleted_at=row["deleted_at"])

    async def add(self, book: KnownBook) -> None:
        await self._session.execute(
            insert(known_books).values(
                book_id=book.id, created_at=book.created_at, deleted_at=book.deleted_at
            )
        )

    async def save(self, book: KnownBook) -> None:
        await self._session.execute(
            update(known_books)
            .where(known_books.c.book_id == book.id)
            .values(created_at=book.created_at, deleted_at=book.deleted_at, updated_at=func.now())
        )


class SqlPurchases:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, purchases: Sequence[VerifiedPurchase]) -> None:
        if not purchases:
            return
        rows = [
            {
                "customer_id": p.customer_id,
                "book_id": p.book_id,
                "order_id": p.order_id,
                "purchased_at": p.purchased_at,
            }
            for p in purchases
        ]
        await self._session.execute(pg_insert(verified_purchases).values(rows).on_conflict_do_nothing())

    async def exists(self, customer_id: str, book_id: UUID) -> bool:
        found = await self._session.scalar(
            select(verified_purchases.c.order_id).where(
                verified_purchases.c.customer_id == customer_id, verified_purchases.c.book_id == book_id
            )
        )
        return found is not None
