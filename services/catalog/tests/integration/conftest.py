"""Catalog integration fixtures: a migrated database, units of work, the HTTP API, seeding and the outbox."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from catalog.adapters import unit_of_work
from catalog.adapters.tables import metadata
from catalog.adapters.unit_of_work import CatalogUnitOfWork
from catalog.application import book_handlers, party_handlers
from catalog.application.commands import CreateAuthor, CreateBook, CreateCategory, CreatePublisher, PriceInput
from catalog.domain.isbn import check_digit
from catalog.entrypoints.definition import MIGRATIONS_DIR, definition
from catalog.entrypoints.settings import CatalogSettings
from chassis.app import create_api
from chassis.auth import mint_local_token
from chassis.db import create_engine, session_factory
from chassis.migrations import upgrade_to_head
from chassis.tables import metadata as chassis_metadata
from chassis.tables import outbox
from testkit.resources import fresh_database

SECRET = "catalog-integration-tests-secret-0123456789"


def new_isbn() -> str:
    first_twelve = "978" + "".join(random.choices("0123456789", k=9))
    return first_twelve + str(check_digit(first_twelve))


@pytest.fixture(scope="session")
async def catalog_database() -> AsyncIterator[str]:
    """One database for the whole run, migrated with the catalog's own Alembic scripts.

    Migrating a fresh database for every test costs far more than emptying this one (see ``catalog_url``).
    """
    async with fresh_database("catalog_test") as url:
        await upgrade_to_head(MIGRATIONS_DIR, url)
        yield url


@pytest.fixture(scope="session")
async def engine(catalog_database: str) -> AsyncIterator[AsyncEngine]:
    # The PostgreSQL server is shared (100 connections for everyone) and this engine lives for the whole run:
    # two connections stay open; the concurrency tests' fifty transactions queue for at most ten, which still
    # race each other for the same rows.
    engine = create_engine(catalog_database, pool_size=2, max_overflow=8, pool_timeout=60)
    yield engine
    await engine.dispose()


@pytest.fixture
async def catalog_url(catalog_database: str, engine: AsyncEngine) -> str:
    """The catalog's database, emptied: each test starts from no books, no messages and no keys."""
    tables = ", ".join(table.name for table in (*metadata.sorted_tables, *chassis_metadata.sorted_tables))
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return catalog_database


UowFactory = Callable[[], CatalogUnitOfWork]


@pytest.fixture
def uow_factory(catalog_url: str, engine: AsyncEngine) -> UowFactory:
    return unit_of_work.uow_factory(session_factory(engine))


class Seed:
    """Puts authors, categories, publishers and books in the catalog through its own use cases."""

    def __init__(self, uow_factory: UowFactory) -> None:
        self._uow = uow_factory

    async def author(self, name: str = "Ursula K. Le Guin") -> UUID:
        async with self._uow() as uow:
            created = await party_handlers.create_author(CreateAuthor(name), uow)
            await uow.commit()
            return created

    async def category(self, name: str = "Fantasy") -> UUID:
        async with self._uow() as uow:
            created = await party_handlers.create_category(CreateCategory(name), uow)
            await uow.commit()
            return created

    async def publisher(self, name: str = "Parnassus") -> UUID:
        async with self._uow() as uow:
            created = await party_handlers.create_publisher(CreatePublisher(name), uow)
            await uow.commit()
            return created

    async def book(
        self,
        title: str = "A Wizard of Earthsea",
        *,
        stock: int = 10,
        price: str = "10.00",
        description: str = "",
        authors: Sequence[UUID] = (),
        category: UUID | None = None,
        publisher: UUID | None = None,
        isbn: str | None = None,
    ) -> UUID:
        command = CreateBook(
            isbn=isbn or new_isbn(),
            title=title,
            description=description,
            price=PriceInput(Decimal(price), "EUR"),
            stock=stock,
            author_ids=tuple(authors),
            category_id=category,
            publisher_id=publisher,
        )
        async with self._uow() as uow:
            created = await book_handlers.create_book(command, uow)
            await uow.commit()
            return created


@pytest.fixture
def seed(uow_factory: UowFactory) -> Seed:
    return Seed(uow_factory)


class Outbox:
    """Reads what the catalog wrote to its outbox: the messages it will publish."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def messages(self, type_suffix: str | None = None) -> list[dict[str, Any]]:
        """Bodies (with ``_type`` and ``_headers``) in the order written, optionally of one message name."""
        async with self._engine.connect() as connection:
            rows = (await connection.execute(select(outbox).order_by(outbox.c.id))).all()
        found = []
        for row in rows:
            if type_suffix is None or row.type.split(".")[2] == type_suffix:
                found.append({**json.loads(row.body), "_type": row.type, "_headers": row.headers})
        return found

    async def count(self) -> int:
        return len(await self.messages())


@pytest.fixture
def outbox_messages(catalog_url: str, engine: AsyncEngine) -> Outbox:
    return Outbox(engine)


@pytest.fixture(scope="session")
def settings(catalog_database: str) -> CatalogSettings:
    return CatalogSettings(
        database_url=catalog_database,
        auth_local_secret=SECRET,
        log_json=False,
        currency="EUR",
        database_pool_size=1,
        database_max_overflow=4,
    )


@pytest.fixture(scope="session")
async def api(settings: CatalogSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_api(definition(), settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://catalog") as client,
    ):
        yield client


@pytest.fixture
def client(catalog_url: str, api: httpx.AsyncClient) -> httpx.AsyncClient:
    """The catalog's HTTP API (through the chassis app factory) on an emptied database."""
    return api


def bearer(subject: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_local_token(SECRET, subject, roles=roles)}"}


@pytest.fixture
def admin() -> dict[str, str]:
    return bearer("admin-1", "admin")


@pytest.fixture
def customer() -> dict[str, str]:
    return bearer("customer-1", "customer")
