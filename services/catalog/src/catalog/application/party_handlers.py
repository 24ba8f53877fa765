"""Create authors, categories and publishers."""

from __future__ import annotations

from uuid import UUID

from catalog.application.commands import CreateAuthor, CreateCategory, CreatePublisher
from catalog.application.errors import DuplicateName
from catalog.application.ports import CatalogUow
from catalog.domain.parties import Author, Category, Publisher


async def create_author(command: CreateAuthor, uow: CatalogUow) -> UUID:
    # Two authors may share a name; an id tells them apart.
    author = Author.create(command.name)
    await uow.authors.add(author)
    return author.id


async def create_category(command: CreateCategory, uow: CatalogUow) -> UUID:
    category = Category.create(command.name)
    if await uow.categories.name_in_use(category.name):
        raise DuplicateName("category", category.name)
    await uow.categories.add(category)
    return category.id


async def create_publisher(command: CreatePublisher, uow: CatalogUow) -> UUID:
    publisher = Publisher.create(command.name)
    if await uow.publishers.name_in_use(publisher.name):
        raise DuplicateName("publisher", publisher.name)
    await uow.publishers.add(publisher)
    return publisher.id
