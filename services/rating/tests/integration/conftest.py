"""Rating against the real PostgreSQL and RabbitMQ: one migrated database emptied before each test, the API
in process, and the worker's broker on a fresh vhost per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import aio_pika
import httpx
import pytest
from sqlalchemy import Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.app import create_api
from chassis.auth import mint_local_token
from chassis.db import create_engine, session_factory
from chassis.messaging.consumer import RetryPolicy
from chassis.messaging.parked import ParkedMessage, list_parked
from chassis.messaging.topology import events_exchange
from chassis.messaging.worker import ServiceBroker, build_broker
from chassis.migrations import upgrade_to_head
from chassis.tables import metadata as chassis_metadata
from chassis.tables import outbox
from contracts.base import Message
from contracts.envelope import Envelope
from contracts.registry import parse
from rating.adapters.tables import feedback, metadata
from rating.adapters.unit_of_work import RatingUnitOfWork, uow_factory
from rating.application.commands import RecordBookCreated, RecordBookDeleted
from rating.application.replica_handlers import record_book_created, record_book_deleted
from rating.entrypoints.consumers import subscriptions
from rating.entrypoints.definition import MIGRATIONS_DIR, definition
from rating.entrypoints.settings import RatingSettings
from testkit.polling import eventually
from testkit.publishing import publish_contract_message, publish_raw
from testkit.resources import fresh_database

SECRET = "rating-integration-tests-secret-0123456789"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
async def migrated_db() -> AsyncIterator[str]:
    """One database migrated by rating's own Alembic scripts, shared by the suite, emptied per test."""
    async with fresh_database("rating_test") as url:
        await upgrade_to_head(MIGRATIONS_DIR, url)
        yield url


@pytest.fixture(scope="session")
async def engine(migrated_db: str) -> AsyncIterator[AsyncEngine]:
    # Lives for the whole run on a shared server: few connections kept open, more only while needed.
    engine = create_engine(migrated_db, pool_size=2, max_overflow=8)
    yield engine
    await engine.dispose()


@pytest.fixture
async def rating_db(migrated_db: str, engine: AsyncEngine) -> str:
    """The shared database, with every table emptied: each test starts from nothing."""
    tables = ", ".join(table.name for table in (*metadata.sorted_tables, *chassis_metadata.sorted_tables))
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables}"))
    return migrated_db


@pytest.fixture
def uows(rating_db: str, engine: AsyncEngine) -> Callable[[], RatingUnitOfWork]:
    return uow_factory(session_factory(engine))


@pytest.fixture(scope="session")
async def session_api(migrated_db: str) -> AsyncIterator[httpx.AsyncClient]:
    """One API app for the run: starting an app (and its pool) per test costs time and connections."""
    settings = RatingSettings(
        database_url=migrated_db,
        auth_local_secret=SECRET,
        log_json=False,
        database_pool_size=1,
        database_max_overflow=7,
    )
    app = create_api(definition(), settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield client


@pytest.fixture
def api(rating_db: str, session_api: httpx.AsyncClient) -> httpx.AsyncClient:
    """The rating API on an emptied database."""
    return session_api


def auth(subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_local_token(SECRET, subject, roles=['customer'])}"}


@dataclass
class Rating:
    """The rating service under test: its API, its database, and shortcuts to arrange and inspect it."""

    api: httpx.AsyncClient
    engine: AsyncEngine
    uows: Callable[[], RatingUnitOfWork]

    @staticmethod
    def auth(subject: str) -> dict[str, str]:
        return auth(subject)

    eventually = staticmethod(eventually)

    async def book_created(self, book_id: UUID) -> None:
        async with self.uows() as uow:
            await record_book_created(RecordBookCreated(book_id, NOW), uow)
            await uow.commit()

    async def book_deleted(self, book_id: UUID) -> None:
        async with self.uows() as uow:
            await record_book_deleted(RecordBookDeleted(book_id, NOW), uow)
            await uow.commit()

    async def outbox_messages(self) -> list[Message]:
        """Everything rating wrote to its outbox, oldest first, read back as contracts messages."""
        async with self.engine.connect() as connection:
            rows = await connection.execute(select(outbox.c.type, outbox.c.body).order_by(outbox.c.id))
            return [parse(row.type, row.body) for row in rows]

    async def count(self, table: Table) -> int:
        async with self.engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(table)) or 0)

    async def feedback_rows(self) -> int:
        return await self.count(feedback)

    async def outbox_rows(self) -> int:
        return await self.count(outbox)


@pytest.fixture
async def rating(api: httpx.AsyncClient, engine: AsyncEngine, uows: Callable[[], RatingUnitOfWork]) -> Rating:
    return Rating(api, engine, uows)


@dataclass
class Bus:
    """A running rating worker and a way to put messages on the bus as their producers would."""

    amqp_url: str
    connection: aio_pika.abc.AbstractRobustConnection
    broker: ServiceBroker

    async def publish(
        self, message: Message, *, body: bytes | None = None, envelope: Envelope | None = None
    ) -> Envelope:
        return await publish_contract_message(self.connection, message, envelope=envelope, body=body)

    async def publish_raw(
        self, exchange: str, routing_key: str, body: bytes, headers: dict[str, Any]
    ) -> None:
        await publish_raw(
            self.connection, exchange=exchange, routing_key=routing_key, body=body, headers=headers
        )

    async def parked(self, handler: str) -> Sequence[ParkedMessage]:
        return await list_parked(self.amqp_url, f"rating.{handler}")


async def start_bus(
    amqp_url: str, uows: Callable[[], RatingUnitOfWork], *, prefetch: int
) -> AsyncIterator[Bus]:
    connection = await aio_pika.connect_robust(amqp_url)
    # The producers' exchanges: their owners (or the bootstrap) declare them, rating only binds to them.
    async with connection.channel() as channel:
        for owner in ("catalog", "ordering"):
            spec = events_exchange(owner)
            await channel.declare_exchange(spec.name, aio_pika.ExchangeType.TOPIC, durable=True)
    broker = build_broker(
        service="rating",
        amqp_url=amqp_url,
        subscriptions=subscriptions(),
        uow_factory=uows,
        retry=RetryPolicy((0.1, 0.2)),
        prefetch=prefetch,
        graceful_timeout=1.0,
    )
    await broker.start()
    try:
        yield Bus(amqp_url, connection, broker)
    finally:
        await broker.stop()
        await connection.close()


@pytest.fixture
async def bus(amqp_url: str, uows: Callable[[], RatingUnitOfWork]) -> AsyncIterator[Bus]:
    """The worker handling one delivery at a time: what is published later is handled later."""
    async for running in start_bus(amqp_url, uows, prefetch=1):
        yield running


@pytest.fixture
async def busy_bus(amqp_url: str, uows: Callable[[], RatingUnitOfWork]) -> AsyncIterator[Bus]:
    """The worker handling up to 16 deliveries of a queue at once, as in production."""
    async for running in start_bus(amqp_url, uows, prefetch=16):
        yield running
