"""The engine's round-trip counter (``folio_sql_round_trips``) counts what a unit of work sends PostgreSQL,
and what the outbox relay sends on the driver directly."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.db import asyncpg_dsn, create_engine, session_factory
from chassis.db_metrics import CONNECTS
from chassis.inbox import claim
from chassis.outbox import OutboxRelay
from chassis.tables import outbox
from chassis.uow import UnitOfWork, outbox_row
from contracts.catalog import BookCreated
from contracts.examples import example
from testkit.polling import eventually
from testkit.queues import BoundQueue

pytestmark = pytest.mark.integration

KINDS = ("statement", "begin", "commit", "rollback", "ping")


def counted() -> dict[str, float]:
    return {k: REGISTRY.get_sample_value("folio_sql_round_trips_total", {"kind": k}) or 0.0 for k in KINDS}


def grown(before: dict[str, float]) -> dict[str, float]:
    return {kind: value - before[kind] for kind, value in counted().items() if value != before[kind]}


async def handle_one(engine: AsyncEngine, *, commit: bool = True) -> None:
    async with UnitOfWork(session_factory(engine), source="test") as uow:
        await claim(uow.session, consumer="test.q", message_id=uuid.uuid4(), message_type="folio.t.v1")
        if commit:
            await uow.commit()


async def test_a_unit_of_work_counts_its_begin_statements_and_commit(chassis_engine: AsyncEngine) -> None:
    await handle_one(chassis_engine)  # the pool's first connection
    before = counted()
    await handle_one(chassis_engine)
    # The reused connection is not pinged: only the claim's transaction goes to the server.
    assert grown(before) == {"begin": 1, "statement": 1, "commit": 1}

    before = counted()
    await handle_one(chassis_engine, commit=False)
    assert grown(before) == {"begin": 1, "statement": 1, "rollback": 1}


async def test_with_pre_ping_each_reused_connection_costs_three_more(
    database_url: str, chassis_engine: AsyncEngine
) -> None:
    engine = create_engine(database_url, pool_pre_ping=True)
    try:
        await handle_one(engine)  # a fresh connection: nothing to pre-ping
        before = counted()
        await handle_one(engine)
        # asyncpg's pre-ping: BEGIN, an empty query, ROLLBACK.
        assert grown(before) == {"ping": 3, "begin": 1, "statement": 1, "commit": 1}
    finally:
        await engine.dispose()


async def test_a_pooled_connection_whose_backend_was_terminated_is_replaced_before_use(
    database_url: str, chassis_engine: AsyncEngine
) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            pooled = (await connection.get_raw_connection()).driver_connection
        connects = CONNECTS._value.get()
        admin = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()

        async def seen_closed() -> bool:
            # The event loop reads the server's goodbye on the pooled connection's socket meanwhile.
            return bool(pooled.is_closed())

        await eventually(seen_closed)
        # The next unit of work runs on a fresh connection and sees no error.
        await handle_one(engine)
        assert CONNECTS._value.get() - connects == 1
    finally:
        await engine.dispose()


async def test_a_relay_pass_on_the_driver_is_counted_as_the_engines_count(
    chassis_engine: AsyncEngine, amqp_url: str
) -> None:
    row = outbox_row(example(BookCreated), source="test")
    async with chassis_engine.begin() as connection:
        await connection.execute(insert(outbox), [{**row, "exchange": "test.events"}])
    async with BoundQueue(amqp_url, "test.events"), OutboxRelay(chassis_engine, amqp_url) as relay:
        before = counted()
        assert await relay.publish_pending() == 1
        # Taken and marked in one transaction; then the pass that finds nothing left (BEGIN, take, COMMIT).
        assert grown(before) == {"begin": 1, "statement": 2, "commit": 1}
        before = counted()
        assert await relay.publish_pending() == 0
        assert grown(before) == {"begin": 1, "statement": 1, "commit": 1}
