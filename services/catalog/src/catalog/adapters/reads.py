"""Queries over the book view and the party tables, shaped for the API's lists and details."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.adapters.tables import SEARCH_CONFIG, authors, book_authors, book_view, categories, publishers
from catalog.application.views import BookSort, BookView, BrowseBooks, ListParties, PartyView, Slice
from catalog.domain.money import Money


def _book(row: Any) -> BookView:
    return BookView(
        id=row.id,
        isbn=row.isbn,
        title=row.title,
        description=row.description,
        author_ids=tuple(row.author_ids),
        author_names=tuple(row.author_names),
        category_id=row.category_id,
        category=row.category,
        publisher_id=row.publisher_id,
        publisher=row.publisher,
        price=Money(row.price_amount, row.price_currency),
        stock=row.stock,
        in_stock=row.in_stock,
        average_rating=row.average_rating,
        rating_count=row.rating_count,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlReads:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def browse_books(self, query: BrowseBooks) -> Slice[BookView]:
        v = book_view.c
        conditions: list[ColumnElement[bool]] = []
        search = None
        if query.text and query.text.strip():
            search = func.websearch_to_tsquery(SEARCH_CONFIG, query.text.strip())
            conditions.append(v.search_vector.op("@@")(search))
        if query.category_id is not None:
            conditions.append(v.category_id == query.category_id)
        if query.publisher_id is not None:
            conditions.append(v.publisher_id == query.publisher_id)
        if query.author_id is not None:
            conditions.append(
                select(book_authors.c.book_id)
                .where(book_authors.c.book_id == v.id, book_authors.c.author_id == query.author_id)
                .exists()
            )
        if query.min_price is not None:
            conditions.append(v.price_amount >= query.min_price)
        if query.max_price is not None:
            conditions.append(v.price_amount <= query.max_price)
        if query.in_stock is not None:
            conditions.append(v.in_stock.is_(query.in_stock))

        sort = query.sort or (BookSort.RELEVANCE if search is not None else BookSort.TITLE)
        order: list[Any]
        if sort is BookSort.RELEVANCE and search is not None:
            order = [func.ts_rank(v.search_vector, search).desc(), v.title]
        elif sort is BookSort.PRICE:
            order = [v.price_amount.asc(), v.title]
        elif sort is BookSort.PRICE_DESC:
            order = [v.price_amount.desc(), v.title]
        elif sort is BookSort.RATING:
            order = [v.average_rating.desc().nulls_last(), v.rating_count.desc(), v.title]
        elif sort is BookSort.NEWEST:
            order = [v.created_at.desc()]
        else:
            order = [func.lower(v.title), v.title]
        total = await self._session.scalar(select(func.count()).select_from(book_view).where(*conditions))
        rows = await self._session.execute(
            select(book_view)
            .where(*conditions)
            .order_by(*order, v.id)
            .offset(query.offset)
            .limit(query.limit)
        )
        return Slice(tuple(_book(row) for row in rows), total or 0)

    async def book(self, book_id: UUID) -> BookView | None:
        row = (await self._session.execute(select(book_view).where(book_view.c.id == book_id))).first()
        return _book(row) if row else None

    async def _parties(self, table: Table, query: ListParties) -> Slice[PartyView]:
        conditions: list[ColumnElement[bool]] = []
        if query.name and query.name.strip():
            pattern = f"%{_escape_like(query.name.strip())}%"
            conditions.append(table.c.name.ilike(pattern, escape="\\"))
        total = await self._session.scalar(select(func.count()).select_from(table).where(*conditions))
        rows = await self._session.execute(
            select(table.c.id, table.c.name, table.c.created_at)
            .where(*conditions)
            .order_by(func.lower(table.c.name), table.c.id)
            .offset(query.offset)
            .limit(query.limit)
        )
        return Slice(tuple(PartyView(row.id, row.name, row.created_at) for row in rows), total or 0)

    async def _party(self, table: Table, id_: UUID) -> PartyView | None:
        row = (
            await self._session.execute(
                select(table.c.id, table.c.name, table.c.created_at).where(table.c.id == id_)
            )
        ).first()
        return PartyView(row.id, row.name, row.created_at) if row else None

    async def authors(self, query: ListParties) -> Slice[PartyView]:
        return await self._parties(authors, query)

    async def author(self, author_id: UUID) -> PartyView | None:
        return await self._party(authors, author_id)

    async def categories(self, query: ListParties) -> Slice[PartyView]:
        return await self._parties(categories, query)

    async def category(self, category_id: UUID) -> PartyView | None:
        return await self._party(categories, category_id)

    async def publishers(self, query: ListParties) -> Slice[PartyView]:
        return await self._parties(publishers, query)

    async def publisher(self, publisher_id: UUID) -> PartyView | None:
        return await self._party(publishers, publisher_id)
