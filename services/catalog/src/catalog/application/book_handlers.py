"""Create, change, restock and delete books."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from catalog.application.commands import CreateBook, DeleteBook, PriceInput, RestockBook, UpdateBook
from catalog.application.errors import DuplicateIsbn, NotFound, UnknownReference
from catalog.application.ports import CatalogUow
from catalog.domain.book import Book, Keep
from catalog.domain.errors import BookIsDeleted
from catalog.domain.isbn import Isbn
from catalog.domain.money import Money
from catalog.domain.parties import AuthorRef, CategoryRef, PublisherRef


def _money(price: PriceInput) -> Money:
    return Money(price.amount, price.currency)


async def _authors(uow: CatalogUow, ids: Sequence[UUID]) -> list[AuthorRef]:
    found = await uow.authors.get_many(ids)
    missing = [id_ for id_ in ids if id_ not in found]
    if missing:
        raise UnknownReference("author_ids", "authors", missing)
    return [AuthorRef(found[id_].id, found[id_].name) for id_ in ids]


async def _category(uow: CatalogUow, category_id: UUID | None) -> CategoryRef | None:
    if category_id is None:
        return None
    category = await uow.categories.get(category_id)
    if category is None:
        raise UnknownReference("category_id", "category", [category_id])
    return CategoryRef(category.id, category.name)


async def _publisher(uow: CatalogUow, publisher_id: UUID | None) -> PublisherRef | None:
    if publisher_id is None:
        return None
    publisher = await uow.publishers.get(publisher_id)
    if publisher is None:
        raise UnknownReference("publisher_id", "publisher", [publisher_id])
    return PublisherRef(publisher.id, publisher.name)


async def _live_book(uow: CatalogUow, book_id: UUID) -> Book:
    book = await uow.books.get(book_id, for_update=True)
    if book is None or book.is_deleted:
        raise NotFound("book", book_id)
    return book


async def create_book(command: CreateBook, uow: CatalogUow) -> UUID:
    isbn = Isbn.parse(command.isbn)
    price = _money(command.price)
    if await uow.books.isbn_in_use(isbn.value):
        raise DuplicateIsbn(isbn.value)
    book = Book.create(
        isbn=isbn,
        title=command.title,
        description=command.description,
        price=price,
        stock=command.stock,
        authors=await _authors(uow, command.author_ids),
        category=await _category(uow, command.category_id),
        publisher=await _publisher(uow, command.publisher_id),
    )
    await uow.books.add(book)
    uow.track(book)
    return book.id


async def update_book(command: UpdateBook, uow: CatalogUow) -> bool:
    """True when something changed."""
    book = await _live_book(uow, command.book_id)
    isbn = Isbn.parse(command.isbn) if not isinstance(command.isbn, Keep) else command.isbn
    if not isinstance(isbn, Keep) and await uow.books.isbn_in_use(isbn.value, other_than=book.id):
        raise DuplicateIsbn(isbn.value)
    changed = book.update(
        isbn=isbn,
        title=command.title,
        description=command.description,
        price=command.price if isinstance(command.price, Keep) else _money(command.price),
        authors=command.author_ids
        if isinstance(command.author_ids, Keep)
        else await _authors(uow, command.author_ids),
        category=command.category_id
        if isinstance(command.category_id, Keep)
        else await _category(uow, command.category_id),
        publisher=command.publisher_id
        if isinstance(command.publisher_id, Keep)
        else await _publisher(uow, command.publisher_id),
    )
    if changed:
        await uow.books.save(book)
        uow.track(book)
    return changed


async def delete_book(command: DeleteBook, uow: CatalogUow) -> None:
    book = await _live_book(uow, command.book_id)
    try:
        book.delete()
    except BookIsDeleted as exc:  # pragma: no cover - _live_book already refused it
        raise NotFound("book", command.book_id) from exc
    await uow.books.save(book)
    uow.track(book)


async def restock_book(command: RestockBook, uow: CatalogUow) -> int:
    """The book's stock after the restock."""
    book = await _live_book(uow, command.book_id)
    book.restock(command.quantity)
    await uow.books.save(book)
    uow.track(book)
    return book.stock
