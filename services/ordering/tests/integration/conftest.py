"""Ordering against the real PostgreSQL and RabbitMQ, with the catalog played by the test on the real broker.

``FakeCatalog`` takes ReserveStock and ReleaseStock from ``catalog.commands`` and answers on
``catalog.events`` with CloudEvents headers, as the test tells it to. Workers are the real ones
(``chassis.runner.run_worker``: consumers, outbox relay, deadline scanner) with small timeouts.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

import aio_pika
import asyncpg
import httpx
import pytest
from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.app import create_api
from chassis.auth.tokens import mint_local_token
from chassis.db import create_engine, session_factory
from chassis.migrations import upgrade_to_head
from chassis.runner import run_worker
from chassis.tables import metadata as chassis_metadata
from contracts.base import Message
from contracts.catalog import (
    RejectionReason,
    ReleaseStock,
    ReserveStock,
    StockReleased,
    StockReservationRejected,
    StockReserved,
)
from contracts.envelope import Envelope, new_id
from contracts.lines import OrderLine, PricedLine
from contracts.money import Money
from contracts.registry import parse
from ordering.adapters.tables import metadata
from ordering.adapters.unit_of_work import OrderingUnitOfWork
from ordering.entrypoints.definition import MIGRATIONS_DIR, definition
from ordering.entrypoints.settings import OrderingSettings
from testkit.polling import eventually
from testkit.publishing import producer_envelope, publish_contract_message, publish_raw
from testkit.resources import fresh_database

SECRET = "ordering-integration-tests-secret-0123456789"
PRICE = Decimal("12.50")
# The saga's deadlines, shrunk: a flat 0.6 s interval (no doubling, no jitter) and a give-up horizon that
# falls after the third ReserveStock (sent at about 0, 0.6 and 1.2 s) and before the fourth could go.
TIMEOUT = 0.6
HORIZON = 1.6
MAX_ATTEMPTS = 3

# What the fake catalog does with one ReserveStock: answer it (at once or after a delay) or stay silent.
Answer = str | tuple[str, float]
Decide = Callable[[ReserveStock, int], Answer]


def always(answer: Answer) -> Decide:
    return lambda command, attempt: answer


@dataclass
class FakeCatalog:
    amqp_url: str
    decide: Decide = field(default_factory=lambda: always("reserve"))
    answer_releases: bool = True
    reserves: list[ReserveStock] = field(default_factory=list)
    releases: list[ReleaseStock] = field(default_factory=list)
    attempts: Counter[UUID] = field(default_factory=Counter)
    held: set[UUID] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self.connection = await aio_pika.connect_robust(self.amqp_url)
        self.channel = await self.connection.channel(publisher_confirms=True)
        self.events = await self.channel.declare_exchange("catalog.events", "topic", durable=True)
        commands = await self.channel.declare_exchange("catalog.commands", "direct", durable=True)
        queue = await self.channel.declare_queue("", exclusive=True)
        for message in (ReserveStock, ReleaseStock):
            await queue.bind(commands, routing_key=message.TYPE)
        await queue.consume(self._on_command)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.connection.close()

    async def _on_command(self, raw: AbstractIncomingMessage) -> None:
        async with raw.process():
            envelope = Envelope.from_headers(dict(raw.headers or {}))
            command = parse(envelope.type, raw.body)
            if isinstance(command, ReserveStock):
                self.reserves.append(command)
                self.attempts[command.order_id] += 1
                self.answer(command, self.decide(command, self.attempts[command.order_id]))
            elif isinstance(command, ReleaseStock):
                self.releases.append(command)
                if self.answer_releases:
                    await self.publish(self.released(command.order_id))

    def answer(self, command: ReserveStock, answer: Answer) -> None:
        kind, delay = (answer, 0.0) if isinstance(answer, str) else answer
        if kind == "silent":
            return
        reply: Message
        if kind == "reserve":
            self.held.add(command.order_id)
            reply = self.reserved(command.order_id, command.lines)
        elif kind == "reject":
            reply = self.rejected(command.order_id, command.lines)
        else:
            raise ValueError(f"unknown answer {kind!r}")
        task = asyncio.create_task(self._later(delay, reply))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _later(self, delay: float, reply: Message) -> None:
        await asyncio.sleep(delay)
        await self.publish(reply)

    @staticmethod
    def reserved(order_id: UUID, lines: list[OrderLine]) -> StockReserved:
        priced = [
            PricedLine(book_id=x.book_id, quantity=x.quantity, unit_price=Money.of(PRICE, "EUR"))
            for x in lines
        ]
        total = Money.total((x.subtotal for x in priced), "EUR")
        return StockReserved(order_id=order_id, lines=priced, total=total)

    @staticmethod
    def rejected(order_id: UUID, lines: list[OrderLine]) -> StockReservationRejected:
        reasons = [
            RejectionReason(book_id=x.book_id, reason="out_of_stock", requested=x.quantity, available=0)
            for x in lines
        ]
        return StockReservationRejected(order_id=order_id, reasons=reasons)

    def released(self, order_id: UUID) -> StockReleased:
        held = order_id in self.held
        self.held.discard(order_id)
        return StockReleased(order_id=order_id, released=held, lines=[])

    async def publish(self, message: Message, *, message_id: UUID | None = None) -> UUID:
        envelope = producer_envelope(message, id=message_id or new_id())
        await publish_contract_message(self.connection, message, envelope=envelope, mandatory=False)
        return envelope.id

    async def publish_raw(self, body: bytes, headers: dict[str, Any], routing_key: str) -> None:
        await publish_raw(
            self.connection,
            exchange=self.events.name,
            routing_key=routing_key,
            body=body,
            headers=headers,
            mandatory=False,
        )

    def reserves_for(self, order_id: UUID) -> list[ReserveStock]:
        return [x for x in self.reserves if x.order_id == order_id]

    def releases_for(self, order_id: UUID) -> list[ReleaseStock]:
        return [x for x in self.releases if x.order_id == order_id]


@dataclass
class EventSpy:
    """Every message ordering publishes on ``ordering.events``, parsed."""

    amqp_url: str
    seen: list[Message] = field(default_factory=list)

    async def start(self) -> None:
        self.connection = await aio_pika.connect_robust(self.amqp_url)
        channel = await self.connection.channel()
        exchange = await channel.declare_exchange("ordering.events", "topic", durable=True)
        queue = await channel.declare_queue("", exclusive=True)
        await queue.bind(exchange, routing_key="#")
        await queue.consume(self._on_event, no_ack=True)

    async def _on_event(self, raw: AbstractIncomingMessage) -> None:
        envelope = Envelope.from_headers(dict(raw.headers or {}))
        self.seen.append(parse(envelope.type, raw.body))

    def of(self, kind: type[Message], order_id: UUID | None = None) -> list[Any]:
        return [
            m for m in self.seen if isinstance(m, kind) and order_id in (None, getattr(m, "order_id", None))
        ]

    async def stop(self) -> None:
        await self.connection.close()


def token(subject: str, *, admin: bool = False, email: str | None = "") -> str:
    roles = ["admin"] if admin else ["customer"]
    address = f"{subject}@example.com" if email == "" else email
    return mint_local_token(SECRET, subject, email=address, roles=roles)


def auth(subject: str, *, admin: bool = False, email: str | None = "") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(subject, admin=admin, email=email)}"}


@dataclass
class Ordering:
    """The service under test: its settings, database, workers, API client and the fake catalog."""

    settings: OrderingSettings
    engine: AsyncEngine
    catalog: FakeCatalog
    spy: EventSpy
    client: httpx.AsyncClient
    _workers: list[tuple[asyncio.Event, asyncio.Task[None]]] = field(default_factory=list)

    def uow(self) -> OrderingUnitOfWork:
        return OrderingUnitOfWork(session_factory(self.engine), policy=self.settings.saga_policy())

    async def start_worker(self) -> None:
        stop, started = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(
            run_worker(definition(self.settings), self.settings, stop, serve_probes=False, started=started)
        )
        self._workers.append((stop, task))
        waiting = asyncio.create_task(started.wait())
        await asyncio.wait({waiting, task}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        assert started.is_set(), "the ordering worker did not start"

    async def stop_workers(self) -> None:
        for stop, _ in self._workers:
            stop.set()
        await asyncio.gather(*(task for _, task in self._workers))
        self._workers.clear()

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as connection:
            return list((await connection.execute(text(sql), params)).all())

    async def status(self, order_id: UUID) -> tuple[str, str]:
        rows = await self.rows(
            "SELECT o.status, s.state FROM orders o JOIN order_sagas s ON s.order_id = o.id WHERE o.id = :id",
            id=order_id,
        )
        return rows[0][0], rows[0][1]

    async def wait_for_status(self, order_id: UUID, status: str, saga_state: str | None = None) -> None:
        async def reached() -> bool:
            now = await self.status(order_id)
            return now[0] == status and saga_state in (None, now[1])

        await eventually(reached, what=f"order {order_id} to be {status}/{saga_state}")

    async def place(self, *lines: tuple[UUID, int], customer: str = "alice", **headers: str) -> UUID:
        body = {"lines": [{"book_id": str(book), "quantity": n} for book, n in lines or ((new_id(), 2),)]}
        response = await self.client.post("/api/v1/orders", json=body, headers={**auth(customer), **headers})
        assert response.status_code == 202, response.text
        return UUID(response.json()["id"])

    async def history(self, order_id: UUID) -> list[dict[str, Any]]:
        response = await self.client.get(f"/api/v1/orders/{order_id}/history", headers=auth("x", admin=True))
        assert response.status_code == 200, response.text
        entries: list[dict[str, Any]] = response.json()["entries"]
        return entries

    async def changes(self, order_id: UUID) -> list[str]:
        return [entry["change"] for entry in await self.history(order_id)]


@pytest.fixture(scope="session")
async def ordering_database() -> AsyncIterator[str]:
    """One database migrated by ordering's own scripts for the whole run; each test empties it first.

    Creating and migrating a database per test cost more than the tests themselves.
    """
    async with fresh_database("ordering_test") as url:
        await upgrade_to_head(MIGRATIONS_DIR, url)
        yield url


async def emptied(database_url: str) -> str:
    tables = ", ".join(table.name for table in (*metadata.sorted_tables, *chassis_metadata.sorted_tables))
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()
    return database_url


@pytest.fixture
async def empty_ordering_database(ordering_database: str) -> str:
    """The run's ordering database, emptied, for a test that starts its own processes."""
    return await emptied(ordering_database)


@pytest.fixture
async def ordering(
    ordering_database: str, amqp_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[Ordering]:
    database_url = await emptied(ordering_database)
    # A test whose own steps may outlast the shrunk deadline (waiting for a message to be parked, say)
    # asks for a longer one, so that the saga's clock cannot act while it checks that nothing changed.
    marker = request.node.get_closest_marker("saga_deadline")
    timeout = float(marker.args[0]) if marker else TIMEOUT
    settings = OrderingSettings(
        database_url=database_url,
        amqp_url=amqp_url,
        auth_local_secret=SECRET,
        saga_first_deadline_seconds=timeout,
        saga_max_deadline_seconds=timeout,
        saga_give_up_after_seconds=HORIZON / TIMEOUT * timeout,
        saga_deadline_jitter=0,
        deadline_scan_interval_seconds=0.1,
        retry_delays=(0.1, 0.2, 0.4),
        outbox_poll_interval=0.2,
        # The PostgreSQL server is shared: fewer deliveries in hand, fewer connections held.
        consumer_prefetch=2,
        database_pool_size=3,
        database_max_overflow=3,
        log_json=False,
    )
    overrides = request.node.get_closest_marker("ordering_settings")
    if overrides:
        settings = settings.model_copy(update=overrides.kwargs)
    catalog = FakeCatalog(amqp_url)
    await catalog.start()
    engine = create_engine(database_url, pool_size=3, max_overflow=2)
    app = create_api(definition(settings), settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ordering") as client,
    ):
        system = Ordering(settings, engine, catalog, EventSpy(amqp_url), client)
        await system.start_worker()
        # The worker declared ordering.events; the spy binds to it.
        await system.spy.start()
        try:
            yield system
        finally:
            # Everything stops even if one step fails: the next test empties this database.
            try:
                await system.stop_workers()
            finally:
                try:
                    await system.spy.stop()
                    await catalog.stop()
                finally:
                    await engine.dispose()


@pytest.fixture
def helpers() -> Any:
    """Module-level helpers for the tests (conftest modules cannot be imported under importlib mode)."""

    class Helpers:
        always = staticmethod(always)
        auth = staticmethod(auth)
        secret = SECRET
        eventually = staticmethod(eventually)
        max_attempts = MAX_ATTEMPTS
        timeout = TIMEOUT
        price = PRICE

    return Helpers
