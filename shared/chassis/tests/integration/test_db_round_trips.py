"""The engine's round-trip counter (``folio_sql_round_trips``) counts what a unit of work sends PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.db import create_engine, session_factory
from chassis.inbox import claim
from chassis.uow import UnitOfWork

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


async def test_a_unit_of_work_counts_its_pre_ping_begin_statements_and_commit(
    chassis_engine: AsyncEngine,
) -> None:
    await handle_one(chassis_engine)  # the pool's first connection: nothing to pre-ping
    before = counted()
    await handle_one(chassis_engine)
    # The reused connection is pre-pinged (BEGIN, an empty query, ROLLBACK), then the claim's transaction.
    assert grown(before) == {"ping": 3, "begin": 1, "statement": 1, "commit": 1}

    before = counted()
    await handle_one(chassis_engine, commit=False)
    assert grown(before) == {"ping": 3, "begin": 1, "statement": 1, "rollback": 1}


async def test_without_pre_ping_no_ping_is_counted(database_url: str, chassis_engine: AsyncEngine) -> None:
    engine = create_engine(database_url, pool_pre_ping=False)
    try:
        await handle_one(engine)
        before = counted()
        await handle_one(engine)
        assert grown(before) == {"begin": 1, "statement": 1, "commit": 1}
    finally:
        await engine.dispose()
