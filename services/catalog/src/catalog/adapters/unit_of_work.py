"""Catalog's unit of work: the chassis transaction with the catalog's repositories on its session."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.adapters.message_mapping import to_message
from catalog.adapters.reads import SqlReads
from catalog.adapters.repositories import (
    SqlAuthors,
    SqlBooks,
    SqlCategories,
    SqlPublishers,
    SqlRatings,
    SqlReservations,
)
from chassis import UnitOfWork

SOURCE = "/folio/catalog"


class CatalogUnitOfWork(UnitOfWork):
    books: SqlBooks
    authors: SqlAuthors
    categories: SqlCategories
    publishers: SqlPublishers
    reservations: SqlReservations
    ratings: SqlRatings
    reads: SqlReads

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(session_factory, source=SOURCE, event_mapper=to_message)

    def _start(self) -> None:
        self.books = SqlBooks(self.session)
        self.authors = SqlAuthors(self.session)
        self.categories = SqlCategories(self.session)
        self.publishers = SqlPublishers(self.session)
        self.reservations = SqlReservations(self.session)
        self.ratings = SqlRatings(self.session)
        self.reads = SqlReads(self.session)


def uow_factory(sessions: async_sessionmaker[AsyncSession]) -> Callable[[], CatalogUnitOfWork]:
    return lambda: CatalogUnitOfWork(sessions)
