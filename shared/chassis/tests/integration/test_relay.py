"""The outbox relay against the real PostgreSQL and RabbitMQ: exactly once while running, NOTIFY wake-ups,
failed publishes retried with backoff, broker connection loss, and two relays sharing one outbox."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote, unquote, urlsplit
from uuid import uuid4

import aio_pika
import asyncpg
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.db import asyncpg_dsn, create_engine, session_factory
from chassis.outbox import OutboxRelay, RelayOptions
from chassis.outbox.listener import APPLICATION_NAME
from chassis.outbox.publisher import BatchResult, Publisher
from chassis.outbox.store import PendingRow
from chassis.tables import outbox
from chassis.uow import UnitOfWork, outbox_row
from contracts.base import Event
from testkit.faults import replies_withheld
from testkit.polling import eventually
from testkit.queues import BoundQueue
from testkit.resources import management_client

pytestmark = pytest.mark.integration

EXCHANGE = "test.events"
FAST = RelayOptions(batch_size=200, poll_interval=0.2, retry_base=0.2, retry_max=1.0)


class Pinged(Event):
    TYPE: ClassVar[str] = "folio.test.pinged.v1"
    OWNER: ClassVar[str] = "test"
    SUBJECT: ClassVar[str] = "n"
    n: int


@pytest.fixture
def engine(chassis_engine: AsyncEngine) -> AsyncEngine:
    return chassis_engine


async def add_rows(engine: AsyncEngine, count: int, *, exchange: str = EXCHANGE, start: int = 0) -> None:
    rows = [outbox_row(Pinged(n=n), source="test") for n in range(start, start + count)]
    for row in rows:
        row["exchange"] = exchange
    async with engine.begin() as connection:
        await connection.execute(insert(outbox), rows)


async def commit_through_uow(engine: AsyncEngine, count: int, start: int = 0) -> None:
    async with UnitOfWork(session_factory(engine), source="test") as uow:
        for n in range(start, start + count):
            uow.send(Pinged(n=n))
        await uow.commit()


async def unpublished(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        return (await connection.execute(query)).scalar_one()


@asynccontextmanager
async def running(*relays: OutboxRelay) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(relay.run(stop)) for relay in relays]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)


def pending_rows(count: int) -> list[PendingRow]:
    return [
        PendingRow(
            id=n,
            message_id=uuid4(),
            exchange=EXCHANGE,
            routing_key=Pinged.TYPE,
            type=Pinged.TYPE,
            body=b"{}",
            headers={},
            created_at=datetime.now(UTC),
            attempts=0,
        )
        for n in range(count)
    ]


async def test_rows_a_broker_never_confirms_fail_once_the_publish_timeout_passed(amqp_url: str) -> None:
    async with BoundQueue(amqp_url, EXCHANGE) as observer, replies_withheld(amqp_url, 5672) as (url, silent):
        publisher = Publisher(url, max_in_flight=500, publish_timeout=1.0)
        try:
            # Connected, its channel open and the exchange checked while the broker still answers.
            first = await publisher.publish(pending_rows(3))
            assert len(first.confirmed) == 3, first
            silent.set()
            began = time.monotonic()
            stalled = await asyncio.wait_for(publisher.publish(pending_rows(50)), 10)
            took = time.monotonic() - began
        finally:
            silent.clear()  # a close waits for the broker's answer
            await publisher.close()
        assert stalled.confirmed == []
        assert stalled.interrupted == []
        assert [error for _, error in stalled.failed] == ["not confirmed within 1s"] * 50
        assert 1.0 <= took < 5.0, f"the publish returned after {took:.1f}s"
        # Each was in fact published: a row failed for want of a confirm is sent again, and the inbox dedups.
        await observer.wait_for(53)


async def test_a_publisher_closes_within_seconds_while_the_broker_answers_nothing(amqp_url: str) -> None:
    async with BoundQueue(amqp_url, EXCHANGE), replies_withheld(amqp_url, 5672) as (url, silent):
        publisher = Publisher(url, max_in_flight=500, publish_timeout=1.0)
        # Its connection, publishing channel and checking channel open while the broker still answers.
        assert len((await publisher.publish(pending_rows(3))).confirmed) == 3
        silent.set()
        began = time.monotonic()
        await asyncio.wait_for(publisher.close(), 30)
        took = time.monotonic() - began
        # Before, each channel's close waited for a Close-Ok that never came: 90 s, past any stop's grace.
        assert took < 5.0, f"the close took {took:.1f}s"
        assert not publisher.connected


async def test_running_relay_publishes_every_row_exactly_once(engine: AsyncEngine, amqp_url: str) -> None:
    async with BoundQueue(amqp_url, EXCHANGE) as observer, running(OutboxRelay(engine, amqp_url, FAST)):
        for commit in range(30):
            await commit_through_uow(engine, 10, start=commit * 10)
        await observer.wait_for(300)

    assert len(observer.ids) == len(set(observer.ids)) == 300
    assert await unpublished(engine) == 0
    async with engine.connect() as connection:
        stored = {str(i) for i in (await connection.execute(select(outbox.c.message_id))).scalars()}
    assert stored == set(observer.ids)


async def test_messages_carry_the_envelope_as_headers_and_properties(
    engine: AsyncEngine, amqp_url: str
) -> None:
    await commit_through_uow(engine, 1, start=7)
    async with BoundQueue(amqp_url, EXCHANGE) as observer, OutboxRelay(engine, amqp_url, FAST) as relay:
        assert await relay.publish_pending() == 1
        await observer.wait_for(1)

    message = observer.received[0]
    async with engine.connect() as connection:
        row = (await connection.execute(select(outbox))).one()
    assert message.body == row.body
    assert message.headers == row.headers
    assert message.message_id == str(row.message_id)
    assert message.type == Pinged.TYPE
    assert message.routing_key == Pinged.TYPE
    assert message.content_type == "application/json"
    assert message.correlation_id == "7"
    assert message.app_id == "test"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert isinstance(message.timestamp, datetime)
    assert row.published_at is not None
    assert row.attempts == 0


async def listener_pid(database_url: str) -> int | None:
    admin = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        pid: int | None = await admin.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
            APPLICATION_NAME,
        )
        return pid
    finally:
        await admin.close()


async def test_notify_wakes_the_relay_and_the_listener_reconnects(
    engine: AsyncEngine, amqp_url: str, database_url: str
) -> None:
    # A poll far longer than the test: only NOTIFY can explain a publish within seconds (the deadlines below
    # leave room for a loaded machine and are still far shorter than the poll).
    slow_poll = RelayOptions(poll_interval=60.0)
    async with BoundQueue(amqp_url, EXCHANGE) as observer, running(OutboxRelay(engine, amqp_url, slow_poll)):
        await eventually(lambda: _is_not_none(listener_pid(database_url)))
        await asyncio.sleep(0.2)
        await commit_through_uow(engine, 1)
        await observer.wait_for(1, within=15)

        first = await listener_pid(database_url)
        admin = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", first)
        finally:
            await admin.close()

        async def reconnected() -> bool:
            pid = await listener_pid(database_url)
            return pid is not None and pid != first

        await eventually(reconnected)
        await asyncio.sleep(0.2)
        await commit_through_uow(engine, 1, start=1)
        await observer.wait_for(2, within=15)

    assert len(set(observer.ids)) == 2


async def _is_not_none(value: Awaitable[Any]) -> bool:
    return (await value) is not None


async def test_a_publish_to_a_missing_exchange_is_retried_with_backoff(
    engine: AsyncEngine, amqp_url: str
) -> None:
    await add_rows(engine, 3, exchange="missing.events")
    await add_rows(engine, 5, start=100)
    slow_retry = RelayOptions(retry_base=30.0, retry_max=60.0)
    async with BoundQueue(amqp_url, EXCHANGE) as observer, OutboxRelay(engine, amqp_url, slow_retry) as relay:
        assert await relay.publish_pending() == 5
        await observer.wait_for(5)

        async with engine.connect() as connection:
            failed = (
                await connection.execute(
                    select(outbox.c.attempts, outbox.c.last_error, outbox.c.available_at - func.now()).where(
                        outbox.c.exchange == "missing.events"
                    )
                )
            ).all()
        assert len(failed) == 3
        for attempts, last_error, wait in failed:
            assert attempts == 1
            assert "NOT_FOUND" in last_error
            assert 20 < wait.total_seconds() <= 30

        # The relay's connection and its other channels are unharmed.
        await add_rows(engine, 5, start=200)
        assert await relay.publish_pending() == 5
        await observer.wait_for(10)

    assert await unpublished(engine) == 3


async def test_a_running_relay_keeps_going_and_publishes_once_the_exchange_appears(
    engine: AsyncEngine, amqp_url: str
) -> None:
    await add_rows(engine, 3, exchange="late.events")

    async def retried_twice() -> bool:
        async with engine.connect() as connection:
            query = select(func.min(outbox.c.attempts)).where(outbox.c.exchange == "late.events")
            attempts: int = (await connection.execute(query)).scalar_one()
            return attempts >= 2

    async with BoundQueue(amqp_url, EXCHANGE) as observer, running(OutboxRelay(engine, amqp_url, FAST)):
        await eventually(retried_twice)
        await commit_through_uow(engine, 5)
        await observer.wait_for(5)
        async with BoundQueue(amqp_url, "late.events") as late:
            await late.wait_for(3, within=10)

    assert await unpublished(engine) == 0
    assert len(set(late.ids)) == 3


async def close_relay_connections(amqp_url: str) -> int:
    vhost = unquote(urlsplit(amqp_url).path[1:])
    closed = 0
    async with management_client() as api:
        response = await api.get(f"/api/vhosts/{quote(vhost, safe='')}/connections")
        response.raise_for_status()
        for connection in response.json():
            if connection.get("client_properties", {}).get("connection_name") == "folio-outbox-relay":
                await api.delete(f"/api/connections/{quote(connection['name'], safe='')}")
                closed += 1
    return closed


async def test_the_relay_survives_a_dropped_broker_connection(engine: AsyncEngine, amqp_url: str) -> None:
    async with BoundQueue(amqp_url, EXCHANGE) as observer, running(OutboxRelay(engine, amqp_url, FAST)):
        await commit_through_uow(engine, 10)
        await observer.wait_for(10)

        async def closed_one() -> bool:
            return await close_relay_connections(amqp_url) > 0

        await eventually(closed_one)
        await commit_through_uow(engine, 10, start=10)
        await observer.wait_for(20)

    assert len(observer.ids) == len(set(observer.ids)) == 20
    assert await unpublished(engine) == 0


async def test_two_relays_publish_10000_rows_each_exactly_once(
    database_url: str, engine: AsyncEngine, amqp_url: str
) -> None:
    await add_rows(engine, 10_000)
    options = RelayOptions(batch_size=500, poll_interval=0.2)
    other_engine = create_engine(database_url)
    first, second = OutboxRelay(engine, amqp_url, options), OutboxRelay(other_engine, amqp_url, options)
    try:
        async with BoundQueue(amqp_url, EXCHANGE) as observer:
            started = time.monotonic()
            async with running(first, second):
                await observer.wait_for(10_000, within=60)
                elapsed = time.monotonic() - started
            # Both relays stopped: a row published twice was routed by now, and arrives before this returns.
            await observer.caught_up()
    finally:
        await other_engine.dispose()

    assert len(observer.ids) == 10_000
    assert len(set(observer.ids)) == 10_000
    assert await unpublished(engine) == 0
    # Both took part: the row locks, not luck, kept them apart.
    assert first.published > 0
    assert second.published > 0
    assert first.published + second.published == 10_000
    print(f"two relays: 10000 rows in {elapsed:.1f}s ({first.published} + {second.published})")


class HeldBeforeMarking(OutboxRelay):
    """Stops between the broker's confirms and the mark, until released."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def _record(self, connection: asyncpg.Connection, result: BatchResult) -> set[int]:
        self.holding.set()
        await self.release.wait()
        return await super()._record(connection, result)


async def test_a_second_relay_skips_rows_the_first_is_publishing(engine: AsyncEngine, amqp_url: str) -> None:
    await add_rows(engine, 10)
    first = HeldBeforeMarking(engine, amqp_url, FAST)
    async with (
        BoundQueue(amqp_url, EXCHANGE) as observer,
        first,
        OutboxRelay(engine, amqp_url, FAST) as second,
    ):
        publishing = asyncio.create_task(first.publish_pending())
        await asyncio.wait_for(first.holding.wait(), timeout=10)
        # Published, not yet marked: the rows are still locked, so the second relay finds nothing to do.
        assert await second.publish_pending() == 0
        first.release.set()
        assert await publishing == 10
        assert await second.publish_pending() == 0
        await observer.wait_for(10)

    assert len(observer.ids) == len(set(observer.ids)) == 10
    assert await unpublished(engine) == 0
