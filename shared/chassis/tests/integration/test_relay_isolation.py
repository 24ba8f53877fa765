"""One bad outbox row fails alone, against the real PostgreSQL and RabbitMQ: a message no queue receives is
not marked published, a row the broker refuses (403, 404, too large) backs off on its own while the rest of
its batch is published, and a row that keeps failing ends visibly in ``failed_at`` until retried."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, ClassVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aio_pika
import pytest
from sqlalchemy import Integer, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.outbox import OutboxRelay, RelayOptions
from chassis.outbox.store import outbox_figures, retry_failed
from chassis.tables import outbox
from chassis.uow import outbox_row
from contracts.base import Event
from contracts.envelope import SUBJECT
from contracts.examples import example
from contracts.notification import NotificationSent
from testkit.polling import eventually
from testkit.queues import BoundQueue
from testkit.resources import management_client, unique_name

pytestmark = pytest.mark.integration

# Retries far beyond the test unless a test makes a row due again itself.
SLOW_RETRY = RelayOptions(retry_base=60.0, retry_max=60.0, recheck_interval=60.0)


class Pinged(Event):
    """A type the contracts do not know: the relay treats it as one that must reach a queue."""

    TYPE: ClassVar[str] = "folio.test.pinged.v1"
    OWNER: ClassVar[str] = "test"
    SUBJECT: ClassVar[str] = "n"
    n: int


def ns(queue: BoundQueue) -> list[int]:
    """The numbers of the rows that arrived, in order, duplicates included."""
    return sorted(int(str(message.headers[SUBJECT])) for message in queue.received)


async def arrived(queue: BoundQueue, n: int, within: float = 20.0) -> None:
    """Wait until the row numbered ``n`` has arrived."""

    async def there() -> None:
        assert n in ns(queue)

    await eventually(there, within=within, what=f"{queue.exchange}: {n} to arrive")


@pytest.fixture
def engine(chassis_engine: AsyncEngine) -> AsyncEngine:
    return chassis_engine


async def declare_exchanges(amqp_url: str, *names: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for name in names:
            await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
    finally:
        await connection.close()


async def add_rows(engine: AsyncEngine, rows: list[tuple[int, str]], *, body: bytes | None = None) -> None:
    """One outbox row per (n, exchange), in that order."""
    values = []
    for n, exchange in rows:
        row = outbox_row(Pinged(n=n), source="test")
        row["exchange"] = exchange
        if body is not None:
            row["body"] = body
        values.append(row)
    async with engine.begin() as connection:
        await connection.execute(insert(outbox), values)


async def state(engine: AsyncEngine, exchange: str | None = None) -> list[Any]:
    """(n, published, attempts, last_error, seconds until due, failed) of every row (to ``exchange``)."""
    query = select(
        outbox.c.headers[SUBJECT].astext.cast(Integer).label("n"),
        outbox.c.published_at.is_not(None).label("published"),
        outbox.c.attempts,
        outbox.c.last_error,
        func.extract("epoch", outbox.c.available_at - func.now()).label("due_in"),
        outbox.c.failed_at.is_not(None).label("failed"),
    ).order_by(outbox.c.id)
    if exchange is not None:
        query = query.where(outbox.c.exchange == exchange)
    async with engine.connect() as connection:
        return list((await connection.execute(query)).all())


async def unpublished(engine: AsyncEngine) -> list[Any]:
    return [row for row in await state(engine) if not row.published]


async def make_due(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(update(outbox).values(available_at=func.now()))


# ------------------------------------------------------------------------------ nothing published unrouted


async def test_a_message_no_queue_receives_stays_unpublished_until_a_queue_is_bound(
    engine: AsyncEngine, amqp_url: str
) -> None:
    await declare_exchanges(amqp_url, "test.events")
    await add_rows(engine, [(1, "test.events"), (2, "test.events")])
    async with OutboxRelay(engine, amqp_url, SLOW_RETRY) as relay:
        assert await relay.publish_pending() == 0

        for _n, published, attempts, last_error, due_in, failed in await state(engine):
            assert not published
            assert not failed
            assert attempts == 1
            assert "NO_ROUTE" in last_error
            assert 50 < due_in <= 60

        async with BoundQueue(amqp_url, "test.events") as queue:
            await make_due(engine)
            assert await relay.publish_pending() == 2
            await queue.wait_for(2)

    assert ns(queue) == [1, 2]
    assert all(published for _, published, *_ in await state(engine))


async def test_an_event_nobody_subscribes_to_counts_as_published_without_a_queue(
    engine: AsyncEngine, amqp_url: str
) -> None:
    await declare_exchanges(amqp_url, "notification.events")
    async with engine.begin() as connection:
        await connection.execute(
            insert(outbox), [outbox_row(example(NotificationSent), source="notification")]
        )
    async with OutboxRelay(engine, amqp_url, SLOW_RETRY) as relay:
        assert await relay.publish_pending() == 1


# ----------------------------------------------------------------------------------- one bad row fails alone


async def broker_user(amqp_url: str, *, write: str) -> tuple[str, str]:
    """A user of this test's own on the vhost of ``amqp_url``; returns its name and its AMQP URL."""
    vhost = unquote(urlsplit(amqp_url).path[1:])
    name, password = unique_name("folio_relay"), unique_name("pw")
    async with management_client() as api:
        (await api.put(f"/api/users/{name}", json={"password": password, "tags": ""})).raise_for_status()
        await grant(vhost, name, write=write)
    parts = urlsplit(amqp_url)
    netloc = f"{name}:{password}@{parts.hostname}:{parts.port or 5672}"
    return name, urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def grant(vhost: str, user: str, *, write: str) -> None:
    async with management_client() as api:
        permissions = {"configure": ".*", "write": write, "read": ".*"}
        path = f"/api/permissions/{quote(vhost, safe='')}/{user}"
        (await api.put(path, json=permissions)).raise_for_status()


async def delete_user(name: str) -> None:
    async with management_client() as api:
        await api.delete(f"/api/users/{name}")


async def test_a_row_refused_for_permissions_backs_off_alone_and_flows_once_granted(
    engine: AsyncEngine, amqp_url: str
) -> None:
    exchanges = ("a.events", "refused.events", "b.events")
    await declare_exchanges(amqp_url, *exchanges)
    user, relay_url = await broker_user(amqp_url, write=r"^(a|b)\.events$")
    # The refused rows sit among the others, so that publishes are in flight on both sides of them.
    await add_rows(engine, [(n, exchanges[n % 3]) for n in range(60)])
    # A refusal is believed for a second, then the exchange is tried again.
    options = RelayOptions(retry_base=60.0, retry_max=60.0, recheck_interval=1.0)
    try:
        async with (
            BoundQueue(amqp_url, "a.events") as a,
            BoundQueue(amqp_url, "b.events") as b,
            BoundQueue(amqp_url, "refused.events") as refused,
            OutboxRelay(engine, relay_url, options) as relay,
        ):
            assert await relay.publish_pending() == 40
            await a.wait_for(20)
            await b.wait_for(20)
            # Rows the broker routed but had not confirmed when it closed the channel are published again
            # (once: the refused exchange is then known by name); the consumers' inboxes absorb that.
            assert sorted(set(ns(a))) == list(range(0, 60, 3))
            assert sorted(set(ns(b))) == list(range(2, 60, 3))
            assert max(Counter(ns(a) + ns(b)).values()) <= 2

            for _n, published, attempts, last_error, due_in, failed in await state(engine, "refused.events"):
                assert not published
                assert not failed
                assert attempts == 1
                assert "ACCESS_REFUSED" in last_error
                assert 50 < due_in <= 60
            assert all(attempts == 0 for _, _, attempts, *_ in await state(engine, "a.events"))

            # The relay goes on publishing the others while the refused rows wait.
            await add_rows(engine, [(100, "a.events"), (101, "refused.events"), (102, "b.events")])
            assert await relay.publish_pending() == 2
            await arrived(a, 100)
            await arrived(b, 102)
            assert ns(refused) == []

            await grant(unquote(urlsplit(amqp_url).path[1:]), user, write=".*")

            # The same relay, once the refusal is no longer believed and the rows are due again.
            async def flowed() -> bool:
                await make_due(engine)
                await relay.publish_pending()
                return len(await unpublished(engine)) == 0

            await eventually(flowed, interval=0.2, what="the refused rows to flow once granted")
            await refused.wait_for(21)
    finally:
        await delete_user(user)

    assert ns(refused) == [*range(1, 60, 3), 101]
    assert sorted(set(ns(a))) == [*range(0, 60, 3), 100]
    assert await unpublished(engine) == []


async def test_an_exchange_deleted_since_it_was_checked_fails_only_its_rows(
    engine: AsyncEngine, amqp_url: str
) -> None:
    await declare_exchanges(amqp_url, "a.events", "gone.events")
    await add_rows(engine, [(0, "a.events"), (1, "gone.events")])
    async with BoundQueue(amqp_url, "a.events") as a, OutboxRelay(engine, amqp_url, SLOW_RETRY) as relay:
        async with BoundQueue(amqp_url, "gone.events") as gone:
            assert await relay.publish_pending() == 2
            await gone.wait_for(1)
        connection = await aio_pika.connect(amqp_url)
        try:
            await (await connection.channel()).exchange_delete("gone.events")
        finally:
            await connection.close()

        # The relay still believes in the exchange (checked within recheck_interval): the broker says 404.
        await add_rows(engine, [(n, "gone.events" if n % 10 == 3 else "a.events") for n in range(10, 60)])
        assert await relay.publish_pending() == 45
        await arrived(a, 59)

    assert sorted(set(ns(a))) == [0, *(n for n in range(10, 60) if n % 10 != 3)]
    gone_rows = await state(engine, "gone.events")
    assert [n for n, published, *_ in gone_rows if not published] == [13, 23, 33, 43, 53]
    for _n, published, attempts, last_error, _due_in, _failed in gone_rows[1:]:
        assert not published
        assert attempts == 1
        assert "NOT_FOUND" in last_error


async def test_a_body_too_large_fails_alone(engine: AsyncEngine, amqp_url: str) -> None:
    await declare_exchanges(amqp_url, "a.events")
    await add_rows(engine, [(0, "a.events")])
    await add_rows(engine, [(1, "a.events")], body=b"x" * 2000)
    await add_rows(engine, [(2, "a.events")])
    small = RelayOptions(retry_base=60.0, retry_max=60.0, max_body_bytes=1000)
    async with BoundQueue(amqp_url, "a.events") as a, OutboxRelay(engine, amqp_url, small) as relay:
        assert await relay.publish_pending() == 2
        await a.wait_for(2)

    assert ns(a) == [0, 2]
    (row,) = await unpublished(engine)
    assert row.n == 1
    assert row.attempts == 1
    assert "larger than" in row.last_error


async def test_a_row_the_broker_refuses_without_naming_an_exchange_is_found_by_halving(
    engine: AsyncEngine, amqp_url: str
) -> None:
    await declare_exchanges(amqp_url, "a.events")
    await add_rows(engine, [(n, "a.events") for n in range(30)])
    # A CC header must be an array: RabbitMQ closes the channel with 406 PRECONDITION_FAILED.
    async with engine.begin() as connection:
        await connection.execute(
            text('UPDATE outbox SET headers = headers || \'{"CC": "not-a-list"}\' WHERE id = 17')
        )
    async with BoundQueue(amqp_url, "a.events") as a, OutboxRelay(engine, amqp_url, SLOW_RETRY) as relay:
        assert await relay.publish_pending() == 29
        await a.wait_for(29)

    assert sorted(set(ns(a))) == [n for n in range(30) if n != 16]
    (row,) = await unpublished(engine)
    assert row.n == 16
    assert row.attempts == 1
    assert "PRECONDITION_FAILED" in row.last_error


# ------------------------------------------------------------------------------------- given up, visibly


async def test_a_row_failing_max_attempts_times_is_given_up_visibly_and_can_be_retried(
    engine: AsyncEngine, amqp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await declare_exchanges(amqp_url, "a.events")
    await add_rows(engine, [(0, "missing.events"), (1, "a.events")])
    options = RelayOptions(retry_base=0.05, retry_max=0.05, max_attempts=3)
    caplog.set_level(logging.WARNING, logger="chassis.outbox")
    async with BoundQueue(amqp_url, "a.events") as a, OutboxRelay(engine, amqp_url, options) as relay:
        assert await relay.publish_pending() == 1
        for attempts in (2, 3):
            await make_due(engine)  # its backoff over
            assert await relay.publish_pending() == 0
            assert (await state(engine, "missing.events"))[0].attempts == attempts

        (row,) = await state(engine, "missing.events")
        assert row.failed
        assert not row.published
        assert "NOT_FOUND" in row.last_error
        given_up = [r for r in caplog.records if r.levelno == logging.ERROR and "given up" in r.getMessage()]
        assert len(given_up) == 1

        # No longer taken, however due it is: its attempts stay where they are, and it is logged no more.
        await make_due(engine)
        assert await relay.publish_pending() == 0
        assert (await state(engine, "missing.events"))[0].attempts == 3
        assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1

        async with engine.connect() as connection:
            figures = await outbox_figures(connection)
        assert (figures.pending, figures.failed) == (0, 1)

        async with BoundQueue(amqp_url, "missing.events") as missing:
            async with engine.begin() as connection:
                assert await retry_failed(connection) == 1
            assert await relay.publish_pending() == 1
            await missing.wait_for(1)
        await a.wait_for(1)

    assert ns(missing) == [0]
    assert await unpublished(engine) == []


async def test_the_figures_count_pending_and_failed_rows_and_age_the_oldest(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        empty = await outbox_figures(connection)
    assert (empty.pending, empty.oldest_pending_age_seconds, empty.failed) == (0, 0.0, 0)

    await add_rows(engine, [(n, "a.events") for n in range(5)])
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE outbox SET created_at = now() - interval '90 seconds' WHERE id = 1")
        )
        await connection.execute(text("UPDATE outbox SET published_at = now() WHERE id = 2"))
        await connection.execute(text("UPDATE outbox SET failed_at = now() WHERE id IN (3, 4)"))
        figures = await outbox_figures(connection)

    assert figures.pending == 2
    assert figures.failed == 2
    assert 90 <= figures.oldest_pending_age_seconds < 120
