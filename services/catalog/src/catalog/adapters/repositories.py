"""Every catalog repository: books (with the parties they name), authors, categories and publishers,
stock reservations, and the rating projection (one row per customer and book, and each book's totals)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    Row,
    Text,
    Uuid,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.adapters.tables import (
    authors,
    book_authors,
    book_ratings,
    books,
    categories,
    customer_ratings,
    publishers,
    stock_reservation_lines,
    stock_reservations,
)
from catalog.application.errors import DuplicateIsbn, DuplicateName
from catalog.domain.book import Book
from catalog.domain.events import Rejection, ReservedLine
from catalog.domain.isbn import Isbn
from catalog.domain.money import Money
from catalog.domain.parties import Author, AuthorRef, Category, CategoryRef, Publisher, PublisherRef
from catalog.domain.ratings import CustomerRating
from catalog.domain.reservation import ReservationStatus, StockReservation

# Books in and out of their tables, with the authors, category and publisher they name. Every statement on
# a hot path is built once, here, with its parameters bound at execution.

# A book's authors, first author first, ride along in the book's own row: [[id, name], ...].
_AUTHOR_REFS = (
    select(
        func.coalesce(
            func.json_agg(
                aggregate_order_by(
                    func.json_build_array(authors.c.id, authors.c.name), book_authors.c.position
                )
            ),
            literal_column("'[]'::json"),
        )
    )
    .select_from(book_authors.join(authors, authors.c.id == book_authors.c.author_id))
    .where(book_authors.c.book_id == books.c.id)
    .scalar_subquery()
)
_SELECT_BOOKS = select(
    # Not the search vector: nothing but the search reads it.
    *(column for column in books.c if column.key != "search_vector"),
    categories.c.name.label("category_name"),
    publishers.c.name.label("publisher_name"),
    type_coerce(_AUTHOR_REFS, JSON).label("author_refs"),
).select_from(
    books.outerjoin(categories, categories.c.id == books.c.category_id).outerjoin(
        publishers, publishers.c.id == books.c.publisher_id
    )
)
_GET_BOOK = _SELECT_BOOKS.where(books.c.id == bindparam("book_id"))
_LOCK_BOOK = _GET_BOOK.with_for_update(of=books)
# Locked in id order (see Books.lock_many).
_LOCK_BOOKS = (
    _SELECT_BOOKS.where(books.c.id == any_(bindparam("book_ids", type_=ARRAY(Uuid))))
    .order_by(books.c.id)
    .with_for_update(of=books)
)
_SET_STOCK = update(books).where(books.c.id == bindparam("book_id")).values(stock=bindparam("new_stock"))


@dataclass(frozen=True, slots=True)
class _Loaded:
    """What a book looked like when read, so that saving writes only what changed."""

    version: int
    stock: int
    authors: tuple[AuthorRef, ...]


def _is_isbn_clash(error: IntegrityError) -> bool:
    return "uq_books_isbn_live" in str(error.orig)


def _book(row: Row[Any]) -> Book:
    return Book(
        id=row.id,
        isbn=Isbn(row.isbn),
        title=row.title,
        description=row.description,
        authors=tuple(AuthorRef(UUID(author_id), name) for author_id, name in row.author_refs),
        category=CategoryRef(row.category_id, row.category_name) if row.category_id else None,
        publisher=PublisherRef(row.publisher_id, row.publisher_name) if row.publisher_id else None,
        price=Money(row.price_amount, row.price_currency),
        stock=row.stock,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
        version=row.version,
    )


class SqlBooks:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._loaded: dict[UUID, _Loaded] = {}

    async def get(self, book_id: UUID, *, for_update: bool = False) -> Book | None:
        statement = _LOCK_BOOK if for_update else _GET_BOOK
        found = self._load(await self._session.execute(statement, {"book_id": book_id}))
        return found.get(book_id)

    async def lock_many(self, book_ids: Collection[UUID]) -> dict[UUID, Book]:
        if not book_ids:
            return {}
        return self._load(await self._session.execute(_LOCK_BOOKS, {"book_ids": list(set(book_ids))}))

    def _load(self, rows: Iterable[Row[Any]]) -> dict[UUID, Book]:
        found: dict[UUID, Book] = {}
        for row in rows:
            book = _book(row)
            self._loaded[book.id] = _Loaded(book.version, book.stock, book.authors)
            found[book.id] = book
        return found

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

    async def save_all(self, saved: Iterable[Book]) -> None:
        """Save each of ``saved``; those whose stock alone moved (a reservation's) in one statement."""
        moved: list[Book] = []
        for book in saved:
            loaded = self._loaded.get(book.id)
            if loaded is None or loaded.version != book.version:
                await self.save(book)
            elif loaded.stock != book.stock:
                moved.append(book)
        if moved:
            await self._session.execute(
                _SET_STOCK, [{"book_id": book.id, "new_stock": book.stock} for book in moved]
            )
            for book in moved:
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


# Authors, categories and publishers in and out of their tables.
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


# Stock reservations and their lines; a rejected reservation keeps its reasons as JSON.
def _rejection_to_json(rejection: Rejection) -> dict[str, Any]:
    return {
        "book_id": str(rejection.book_id),
        "reason": rejection.reason,
        "requested": rejection.requested,
        "available": rejection.available,
    }


def _rejection_from_json(data: dict[str, Any]) -> Rejection:
    return Rejection(UUID(data["book_id"]), data["reason"], int(data["requested"]), int(data["available"]))


# The reservation statements, each built once. The order's lock is an advisory lock, not FOR UPDATE: it also
# holds an order with no reservation row yet, which two commands would otherwise both insert
# (UniqueViolation on pk_stock_reservations).
_LOCK_ORDER = select(func.pg_advisory_xact_lock(func.hashtextextended(bindparam("order_key", type_=Text), 0)))
_GET_RESERVATION = select(stock_reservations).where(stock_reservations.c.order_id == bindparam("order_id"))
_LOCK_RESERVATION = _GET_RESERVATION.with_for_update()
_RESERVATION_LINES = (
    select(stock_reservation_lines)
    .where(stock_reservation_lines.c.order_id == bindparam("order_id"))
    .order_by(stock_reservation_lines.c.position)
)
_ADD_RESERVATION = insert(stock_reservations)
_ADD_RESERVATION_LINES = insert(stock_reservation_lines)
_SET_RESERVATION_STATUS = (
    update(stock_reservations)
    .where(stock_reservations.c.order_id == bindparam("reservation"))
    .values(status=bindparam("new_status"), released_at=bindparam("new_released_at"))
)


class SqlReservations:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_order(self, order_id: UUID) -> None:
        await self._session.execute(_LOCK_ORDER, {"order_key": str(order_id)})

    async def get(self, order_id: UUID, *, for_update: bool = False) -> StockReservation | None:
        statement = _LOCK_RESERVATION if for_update else _GET_RESERVATION
        row = (await self._session.execute(statement, {"order_id": order_id})).first()
        if row is None:
            return None
        lines = await self._session.execute(_RESERVATION_LINES, {"order_id": order_id})
        return StockReservation(
            order_id=row.order_id,
            status=ReservationStatus(row.status),
            lines=tuple(
                ReservedLine(
                    line.book_id, line.quantity, Money(line.unit_price_amount, line.unit_price_currency)
                )
                for line in lines
            ),
            rejections=tuple(_rejection_from_json(item) for item in row.rejections),
            created_at=row.created_at,
            released_at=row.released_at,
        )

    async def add(self, reservation: StockReservation) -> None:
        await self._session.execute(
            _ADD_RESERVATION,
            {
                "order_id": reservation.order_id,
                "status": reservation.status.value,
                "rejections": [_rejection_to_json(rejection) for rejection in reservation.rejections],
                "created_at": reservation.created_at,
                "released_at": reservation.released_at,
            },
        )
        if reservation.lines:
            await self._session.execute(
                _ADD_RESERVATION_LINES,
                [
                    {
                        "order_id": reservation.order_id,
                        "book_id": line.book_id,
                        "position": position,
                        "quantity": line.quantity,
                        "unit_price_amount": line.unit_price.amount,
                        "unit_price_currency": line.unit_price.currency,
                    }
                    for position, line in enumerate(reservation.lines)
                ],
            )

    async def save(self, reservation: StockReservation) -> None:
        """Only the status moves once a reservation exists (held to released)."""
        await self._session.execute(
            _SET_RESERVATION_STATUS,
            {
                "reservation": reservation.order_id,
                "new_status": reservation.status.value,
                "new_released_at": reservation.released_at,
            },
        )


# The rating projection: one row per customer and book, and each book's totals derived from them.
class SqlRatings:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_book(self, book_id: UUID) -> None:
        # The totals row doubles as the book's lock: it must exist before it can be locked.
        await self._session.execute(
            pg_insert(book_ratings).values(book_id=book_id).on_conflict_do_nothing(index_elements=["book_id"])
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
            pg_insert(customer_ratings)
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
