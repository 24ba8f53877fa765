"""Read the catalog: the book view for browsing and the lists of authors, categories and publishers."""

from __future__ import annotations

from uuid import UUID

from catalog.application.errors import NotFound
from catalog.application.ports import CatalogUow
from catalog.application.views import BookView, BrowseBooks, ListParties, PartyView, Slice


async def browse_books(query: BrowseBooks, uow: CatalogUow) -> Slice[BookView]:
    return await uow.reads.browse_books(query)


async def book_detail(book_id: UUID, uow: CatalogUow) -> BookView:
    book = await uow.reads.book(book_id)
    if book is None:
        raise NotFound("book", book_id)
    return book


async def list_authors(query: ListParties, uow: CatalogUow) -> Slice[PartyView]:
    return await uow.reads.authors(query)


async def author_detail(author_id: UUID, uow: CatalogUow) -> PartyView:
    author = await uow.reads.author(author_id)
    if author is None:
        raise NotFound("author", author_id)
    return author


async def list_categories(query: ListParties, uow: CatalogUow) -> Slice[PartyView]:
    return await uow.reads.categories(query)


async def category_detail(category_id: UUID, uow: CatalogUow) -> PartyView:
    category = await uow.reads.category(category_id)
    if category is None:
        raise NotFound("category", category_id)
    return category


async def list_publishers(query: ListParties, uow: CatalogUow) -> Slice[PartyView]:
    return await uow.reads.publishers(query)


async def publisher_detail(publisher_id: UUID, uow: CatalogUow) -> PartyView:
    publisher = await uow.reads.publisher(publisher_id)
    if publisher is None:
        raise NotFound("publisher", publisher_id)
    return publisher
