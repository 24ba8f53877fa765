"""The relay polls seldom while it listens, and often while it does not: against the real PostgreSQL and
RabbitMQ, rows inserted without a NOTIFY are still published when no listener runs, and a row the relay
failed is retried when its retry comes due, not at the next (long) idle poll."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import ClassVar

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.outbox import OutboxRelay, RelayOptions
from chassis.outbox import relay as relay_module
from chassis.tables import OUTBOX_CHANNEL, outbox
from chassis.uow import outbox_row
from contracts.base import Event
from testkit.polling import eventually
from testkit.queues import BoundQueue
from testkit.resources import unique_name

pytestmark = pytest.mark.integration

EXCHANGE = "test.events"
# The idle poll is far longer than any test here: only the short poll can explain a publish within seconds.
LONG_IDLE = RelayOptions(
    poll_interval=0.2, idle_poll_interval=120.0, retry_base=0.5, retry_max=0.5, recheck_interval=0.2
)


class Pinged(Event):
    TYPE: ClassVar[str] = "folio.test.pinged.v1"
    OWNER: ClassVar[str] = "test"
    SUBJECT: ClassVar[str] = "n"
    n: int


async def add_rows(
    engine: AsyncEngine, count: int, *, exchange: str = EXCHANGE, notify: bool = False
) -> None:
    """Rows committed as a unit of work writes them (the outbox's trigger notifies); ``notify`` also sends a
    NOTIFY of its own, as writers did before the trigger (one per transaction all the same)."""
    rows = [outbox_row(Pinged(n=n), source="test") for n in range(count)]
    for row in rows:
        row["exchange"] = exchange
    async with engine.begin() as connection:
        await connection.execute(insert(outbox), rows)
        if notify:
            await connection.execute(text("SELECT pg_notify(:channel, '')"), {"channel": OUTBOX_CHANNEL})


@asynccontextmanager
async def running(relay_: OutboxRelay) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(relay_.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def test_without_a_listener_the_relay_polls_and_drains_rows_no_notify_announced(
    chassis_engine: AsyncEngine, amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def listener_down(_dsn: str, _wake: asyncio.Event, stop: asyncio.Event, **_kw: object) -> None:
        await stop.wait()

    monkeypatch.setattr(relay_module, "listen", listener_down)
    async with (
        BoundQueue(amqp_url, EXCHANGE) as observer,
        running(OutboxRelay(chassis_engine, amqp_url, LONG_IDLE)),
    ):
        await asyncio.sleep(0.5)
        await add_rows(chassis_engine, 3)
        await observer.wait_for(3, within=15)


async def test_a_listening_relay_retries_a_failed_row_when_its_retry_comes_due(
    chassis_engine: AsyncEngine, amqp_url: str
) -> None:
    # The first publish fails (no such exchange yet); the exchange appears; only the retry timer, not the
    # 120 s idle poll or a NOTIFY, can publish the row within the test.
    missing = unique_name("test.polling")
    relay_ = OutboxRelay(chassis_engine, amqp_url, LONG_IDLE)
    async with running(relay_):
        await eventually(lambda: _true(relay_._listening.is_set()))
        await add_rows(chassis_engine, 1, exchange=missing, notify=True)
        await eventually(lambda: _true(relay_._retry_due is not None), within=15)
        async with BoundQueue(amqp_url, missing) as observer:
            await observer.wait_for(1, within=15)
        # The broker may deliver the message before the relay has read its confirm and counted it.
        await eventually(
            lambda: _true(relay_.published == 1), within=10, what="the relay counting its publish"
        )


async def _true(value: bool) -> bool:
    return value
