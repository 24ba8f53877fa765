"""Authors, categories and publishers in and out of their tables."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.adapters.tables import authors, categories, publishers
from catalog.application.errors import DuplicateName
from catalog.domain.parties import Author, Category, Publisher


class SqlAuthors:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_many(self, ids: Collection[UUID]) -> dict[UUID, Author]:
        if not ids:
            return {}
        rows = await self._session.execute(select(authors).where(authors.c.id.in_(set(ids))))
        return {row.id: Author(id=row.id, name=row.name, created_at=row.created_at) for row in rows}

    async def add(self, author: Author) -> None:
        await self._session.execute(
            insert(authors).values(id=author.id, name=author.name, created_at=author.created_at)
        )


class SqlCategories:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, category_id: UUID) -> Category | None:
        row = (await self._session.execute(select(categories).where(categories.c.id == category_id))).first()
        return Category(id=row.id, name=row.name, created_at=row.created_at) if row else None

    async def name_in_use(self, name: str) -> bool:
        statement = select(categories.c.id).where(func.lower(categories.c.name) == name.lower())
        return (await self._session.execute(statement)).first() is not None

    async def add(self, category: Category) -> None:
        try:
            await self._session.execute(
                insert(categories).values(id=category.id, name=category.name, created_at=category.created_at)
            )
        except IntegrityError as error:
            raise DuplicateName("category", category.name) from error


class SqlPublishers:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, publisher_id: UUID) -> Publisher | None:
        row = (await self._session.execute(select(publishers).where(publishers.c.id == publisher_id))).first()
        return Publisher(id=row.id, name=row.name, created_at=row.created_at) if row else None

    async def name_in_use(self, name: str) -> bool:
        statement = select(publishers.c.id).where(func.lower(publishers.c.name) == name.lower())
        return (await self._session.execute(statement)).first() is not None

    async def add(self, publisher: Publisher) -> None:
        try:
            await self._session.execute(
                insert(publishers).values(
                    id=publisher.id, name=publisher.name, created_at=publisher.created_at
                )
            )
        except IntegrityError as error:
            raise DuplicateName("publisher", publisher.name) from error
