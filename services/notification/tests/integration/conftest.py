"""Fixtures for notification's integration tests: a migrated database, a fresh vhost, a real SMTP sink
(aiosmtpd, on a free port) and the real worker (consumer, sender and outbox relay) from the chassis runner.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import aio_pika
import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.db import create_engine
from chassis.migrations import upgrade_to_head
from chassis.runner import run_worker
from chassis.tables import inbox, outbox
from chassis.tables import metadata as chassis_metadata
from contracts.base import Message
from contracts.envelope import Envelope
from folio_ops.mail_sink import SmtpSink
from notification.adapters.tables import metadata, notifications
from notification.entrypoints.definition import MIGRATIONS_DIR, definition
from notification.entrypoints.settings import NotificationSettings
from testkit.polling import eventually
from testkit.publishing import publish_contract_message
from testkit.resources import fresh_database

SECRET = "integration-tests-secret-0123456789abcdef"


def test_settings(database_url: str, amqp_url: str, smtp_port: int, **overrides: Any) -> NotificationSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "amqp_url": amqp_url,
        "smtp_port": smtp_port,
        "smtp_timeout_seconds": 2.0,
        "smtp_deadline_seconds": 3.0,
        "sending_lease_seconds": 30.0,
        # Pauses 0.05, 0.1, 0.2 s: a fourth attempt would start 0.35 s after the first, so three are made.
        "backoff_base_seconds": 0.05,
        "backoff_max_seconds": 0.2,
        "give_up_after_seconds": 0.3,
        "sender_poll_interval_seconds": 0.05,
        "retry_delays": (0.2,),
        # One delivery at a time: a message published after another is handled after it.
        "consumer_prefetch": 1,
        "outbox_poll_interval": 0.1,
        # The PostgreSQL server is shared: small pools.
        "database_pool_size": 2,
        "database_max_overflow": 3,
        "auth_local_secret": SECRET,
        "log_json": False,
        **overrides,
    }
    return NotificationSettings(**values, _env_file=None)


@pytest.fixture(scope="session")
async def notification_database() -> AsyncIterator[str]:
    """One database migrated by notification's own scripts for the whole run (see ``migrated_database``)."""
    async with fresh_database("notification_test") as url:
        await upgrade_to_head(MIGRATIONS_DIR, url)
        yield url


@pytest.fixture
async def migrated_database(notification_database: str) -> str:
    """The migrated database, emptied: creating and migrating one per test cost more than the tests."""
    tables = ", ".join(table.name for table in (*metadata.sorted_tables, *chassis_metadata.sorted_tables))
    connection = await asyncpg.connect(notification_database)
    try:
        await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()
    return notification_database


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    async with SmtpSink(port=0) as running:
        yield running


@pytest.fixture
async def engine(migrated_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated_database, pool_size=2, max_overflow=2)
    try:
        yield engine
    finally:
        await engine.dispose()


@dataclass
class Bus:
    """Plays ordering's side: declares its events exchange and publishes real order messages."""

    connection: aio_pika.abc.AbstractConnection
    published: list[Envelope] = field(default_factory=list)

    async def publish(
        self, message: Message, *, envelope: Envelope | None = None, body: bytes | None = None
    ) -> Envelope:
        envelope = await publish_contract_message(self.connection, message, envelope=envelope, body=body)
        self.published.append(envelope)
        return envelope


@pytest.fixture
async def bus(amqp_url: str) -> AsyncIterator[Bus]:
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    # Ordering (or the bootstrap) declares its exchange; notification only binds its queue to it.
    await channel.declare_exchange("ordering.events", aio_pika.ExchangeType.TOPIC, durable=True)
    await channel.close()
    try:
        yield Bus(connection)
    finally:
        await connection.close()


@dataclass
class Worker:
    settings: NotificationSettings
    stop: asyncio.Event
    task: asyncio.Task[None]


@contextlib.asynccontextmanager
async def running_worker(settings: NotificationSettings) -> AsyncIterator[Worker]:
    stop, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        run_worker(definition(settings), settings, stop, serve_probes=False, started=started)
    )
    waiting = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiting}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if task.done():
        task.result()  # raises what stopped it
    assert started.is_set(), "the worker did not start in time"
    try:
        yield Worker(settings, stop, task)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


WorkerStarter = Callable[..., contextlib.AbstractAsyncContextManager[Worker]]


@pytest.fixture
def start_worker(migrated_database: str, amqp_url: str, sink: SmtpSink, bus: Bus) -> WorkerStarter:
    """``async with start_worker(**setting_overrides) as worker:`` runs the notification worker.

    It sends to the ``sink`` fixture unless ``smtp_port`` says otherwise.
    """

    def start(**overrides: Any) -> contextlib.AbstractAsyncContextManager[Worker]:
        port = overrides.pop("smtp_port", sink.port)
        return running_worker(test_settings(migrated_database, amqp_url, port, **overrides))

    return start


@dataclass
class Db:
    """Reads and writes the notification database behind the service's back, to set up and check."""

    engine: AsyncEngine

    async def notifications(self, source_message_id: UUID | None = None) -> list[dict[str, Any]]:
        statement = select(notifications).order_by(notifications.c.created_at)
        if source_message_id is not None:
            statement = statement.where(notifications.c.source_message_id == source_message_id)
        async with self.engine.connect() as connection:
            return [dict(row) for row in (await connection.execute(statement)).mappings()]

    async def outbox(self, message_type: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(select(outbox).where(outbox.c.type == message_type))
            return [dict(row) for row in rows.mappings()]

    async def inbox(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as connection:
            return [dict(row) for row in (await connection.execute(select(inbox))).mappings()]

    async def senders_idle(self) -> bool:
        """No notification waits to be sent or is being sent: every e-mail asked for has been handed over."""
        statement = select(notifications.c.id).where(notifications.c.status.in_(("pending", "sending")))
        async with self.engine.connect() as connection:
            return (await connection.execute(statement.limit(1))).first() is None

    async def execute(self, sql: str, **params: Any) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(text(sql), params)


@pytest.fixture
def db(engine: AsyncEngine) -> Db:
    return Db(engine)


Eventually = Callable[..., Awaitable[None]]


@pytest.fixture(name="eventually")
def eventually_fixture() -> Eventually:
    """``await eventually(check, within=10)``: poll an async condition until it holds."""
    return eventually
