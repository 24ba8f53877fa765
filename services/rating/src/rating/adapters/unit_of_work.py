"""Rating's unit of work: the chassis one with rating's repositories and read side."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis import UnitOfWork
from rating.adapters.message_mapping import to_message
from rating.adapters.reads import SqlReads
from rating.adapters.repositories import SqlFeedbacks, SqlKnownBooks, SqlPurchases

# The CloudEvents `source` of everything rating publishes.
SOURCE = "/folio/rating"


class RatingUnitOfWork(UnitOfWork):
    feedback: SqlFeedbacks
    books: SqlKnownBooks
    purchases: SqlPurchases
    reads: SqlReads

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(session_factory, source=SOURCE, event_mapper=to_message)

    def _start(self) -> None:
        self.feedback = SqlFeedbacks(self.session)
        self.books = SqlKnownBooks(self.session)
        self.purchases = SqlPurchases(self.session)
        self.reads = SqlReads(self.session)


def uow_factory(sessions: async_sessionmaker[AsyncSession]) -> Callable[[], RatingUnitOfWork]:
    return lambda: RatingUnitOfWork(sessions)
