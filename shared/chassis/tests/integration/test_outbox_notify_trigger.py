"""The outbox's own trigger wakes the relay: any committed INSERT into it notifies ``folio_outbox``, a rolled
back one does not, and a migrated database and one made by ``create_chassis_tables`` have the same trigger."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import insert, text

from chassis.db import asyncpg_dsn, create_chassis_tables, create_engine
from chassis.migrations import upgrade_to_head
from chassis.tables import OUTBOX_CHANNEL, outbox
from chassis.uow import outbox_row
from contracts.base import Event
from testkit.resources import fresh_database

pytestmark = pytest.mark.integration

SCRIPTS = Path(__file__).parent / "alembic_scripts"

DEFINITIONS = """
SELECT pg_get_triggerdef(t.oid) AS trigger, pg_get_functiondef(t.tgfoid) AS function
FROM pg_trigger t WHERE t.tgrelid = 'outbox'::regclass AND NOT t.tgisinternal
"""


class Poked(Event):
    TYPE = "folio.test.poked.v1"
    OWNER = "test"
    SUBJECT = "n"

    n: int


async def created(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await create_chassis_tables(engine)
    finally:
        await engine.dispose()


async def migrated(database_url: str) -> None:
    await upgrade_to_head(SCRIPTS, database_url)


@pytest.fixture(params=[created, migrated], ids=["create_chassis_tables", "migrations"])
async def outbox_database(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    async with fresh_database() as url:
        await request.param(url)
        yield url


async def test_a_committed_insert_notifies_and_a_rolled_back_one_does_not(outbox_database: str) -> None:
    notified: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(asyncpg_dsn(outbox_database))
    engine = create_engine(outbox_database)
    try:
        await listener.add_listener(OUTBOX_CHANNEL, lambda *args: notified.put_nowait(args[2]))
        await listener.add_listener("test_marker", lambda *args: notified.put_nowait(args[2]))

        async with engine.connect() as connection:
            await connection.execute(insert(outbox), [outbox_row(Poked(n=1), source="test")])
            await connection.rollback()
        # Notifications arrive in commit order: the marker comes first unless the rollback notified.
        async with engine.begin() as connection:
            await connection.execute(text("NOTIFY test_marker"))
        assert await asyncio.wait_for(notified.get(), timeout=15) == "test_marker"

        # Two INSERTs in one transaction: one wake-up, on commit.
        async with engine.begin() as connection:
            await connection.execute(insert(outbox), [outbox_row(Poked(n=2), source="test")])
            await connection.execute(insert(outbox), [outbox_row(Poked(n=3), source="test")])
            await asyncio.sleep(0.2)
            assert notified.empty()
        assert await asyncio.wait_for(notified.get(), timeout=15) == OUTBOX_CHANNEL
        await asyncio.sleep(0.2)
        assert notified.empty()
    finally:
        await listener.close()
        await engine.dispose()


async def test_the_migrated_trigger_is_the_one_create_chassis_tables_makes() -> None:
    definitions = []
    for make in (created, migrated):
        async with fresh_database() as url:
            await make(url)
            connection = await asyncpg.connect(asyncpg_dsn(url))
            try:
                definitions.append([tuple(row) for row in await connection.fetch(DEFINITIONS)])
            finally:
                await connection.close()
    assert len(definitions[0]) == 1
    assert definitions[0] == definitions[1]
