"""Books in and out of their tables, with the authors, category and publisher they name."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.adapters.tables import authors, book_authors, books, categories, publishers
from catalog.application.errors import DuplicateIsbn
from catalog.domain.book import Book
from catalog.domain.isbn import Isbn
from catalog.domain.money import Money
from catalog.domain.parties import AuthorRef, CategoryRef, PublisherRef

_BOOK_COLUMNS = (
    books,
    categories.c.name.label("category_name"),
    publishers.c.name.label("publisher_name"),
)


@dataclass(frozen=True, slots=True)
class _Loaded:
    """What a book looked like when read, so that saving writes only what changed."""

    version: int
    stock: int
    authors: tuple[AuthorRef, ...]


def _is_isbn_clash(error: IntegrityError) -> bool:
    return "uq_books_isbn_live" in str(error.orig)


class SqlBooks:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._loaded: dict[UUID, _Loaded] = {}

    def _select(self) -> Any:
        return (
            select(*_BOOK_COLUMNS)
            .select_from(books)
            .outerjoin(categories, categories.c.id == books.c.category_id)
            .outerjoin(publishers, publishers.c.id == books.c.publisher_id)
        )

    async def get(self, book_id: UUID, *, for_update: bool = False) -> Book | None:
        statement = self._select().where(books.c.id == book_id)
        if for_update:
            statement = statement.with_for_update(of=books)
        found = await self._load((await self._session.execute(statement)).all())
        return found.get(book_id)

    async def lock_many(self, book_ids: Collection[UUID]) -> dict[UUID, Book]:
        if not book_ids:
            return {}
        statement = (
            self._select()
            .where(books.c.id.in_(sorted(set(book_ids))))
            .order_by(books.c.id)
            .with_for_update(of=books)
        )
        return await self._load((await self._session.execute(statement)).all())

    async def _load(self, rows: Sequence[Row[Any]]) -> dict[UUID, Book]:
        if not rows:
            return {}
        names = await self._authors_of([row.id for row in rows])
        found: dict[UUID, Book] = {}
        for row in rows:
            book = Book(
                id=row.id,
                isbn=Isbn(row.isbn),
                title=row.title,
                description=row.description,
                authors=names.get(row.id, ()),
                category=CategoryRef(row.category_id, row.category_name) if row.category_id else None,
                publisher=PublisherRef(row.publisher_id, row.publisher_name) if row.publisher_id else None,
                price=Money(row.price_amount, row.price_currency),
                stock=row.stock,
                created_at=row.created_at,
                updated_at=row.updated_at,
                deleted_at=row.deleted_at,
                version=row.version,
            )
            self._loaded[book.id] = _Loaded(book.version, book.stock, book.authors)
            found[book.id] = book
        return found

    async def _authors_of(self, book_ids: list[UUID]) -> dict[UUID, tuple[AuthorRef, ...]]:
        statement = (
            select(book_authors.c.book_id, authors.c.id, authors.c.name)
            .join(authors, authors.c.id == book_authors.c.author_id)
            .where(book_authors.c.book_id.in_(book_ids))
            .order_by(book_authors.c.book_id, book_authors.c.position)
        )
        grouped: dict[UUID, list[AuthorRef]] = {}
        for book_id, author_id, name in (await self._session.execute(statement)).all():
            grouped.setdefault(book_id, []).append(AuthorRef(author_id, name))
        return {book_id: tuple(refs) for book_id, refs in grouped.items()}

    def _details(self, book: Book) -> dict[str, Any]:
        return {
            "isbn": book.isbn.value,
            "title": book.title,
            "description": book.description,
            "category_id": book.category.id if book.category else None,
            "publisher_id": book.publisher.id if book.publisher else None,
            "price_amount": book.price.amount,
            "price_currency": book.price.currency,
            "stock": book.stock,
            "version": book.version,
            "updated_at": book.updated_at,
            "deleted_at": book.deleted_at,
        }

    async def add(self, book: Book) -> None:
        try:
            await self._session.execute(
                insert(books).values(id=book.id, created_at=book.created_at, **self._details(book))
            )
        except IntegrityError as error:
            # Another request took the ISBN between our check and this insert.
            if _is_isbn_clash(error):
                raise DuplicateIsbn(book.isbn.value) from error
            raise
        await self._write_authors(book)
        self._loaded[book.id] = _Loaded(book.version, book.stock, book.authors)

    async def save(self, book: Book) -> None:
        loaded = self._loaded.get(book.id)
        if loaded is not None and (loaded.version, loaded.stock) == (book.version, book.stock):
            return
        if loaded is not None and loaded.version == book.version:
            values: dict[str, Any] = {"stock": book.stock}
        else:
            values = self._details(book)
        try:
            await self._session.execute(update(books).where(books.c.id == book.id).values(**values))
        except IntegrityError as error:
            if _is_isbn_clash(error):
                raise DuplicateIsbn(book.isbn.value) from error
            raise
        if loaded is None or loaded.authors != book.authors:
            await self._session.execute(delete(book_authors).where(book_authors.c.book_id == book.id))
            await self._write_authors(book)
        self._loaded[book.id] = _Loaded(book.version, book.stock, book.authors)

    async def _write_authors(self, book: Book) -> None:
        if book.authors:
            await self._session.execute(
                insert(book_authors),
                [
                    {"book_id": book.id, "author_id": author.id, "position": position}
                    for position, author in enumerate(book.authors)
                ],
            )

    async def isbn_in_use(self, isbn: str, *, other_than: UUID | None = None) -> bool:
        statement = select(books.c.id).where(books.c.isbn == isbn, books.c.deleted_at.is_(None))
        if other_than is not None:
            statement = statement.where(books.c.id != other_than)
        return (await self._session.execute(statement.limit(1))).first() is not None
