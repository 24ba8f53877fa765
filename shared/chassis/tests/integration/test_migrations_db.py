"""The Alembic helpers against a real database: upgrade, head detection, concurrent upgrades."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from alembic import command

from chassis.db import asyncpg_dsn
from chassis.migrations import (
    MIGRATION_LOCK_KEY,
    MigrationScripts,
    MigrationState,
    alembic_config,
    current_revisions,
    is_at_head,
    migration_state,
    upgrade,
    upgrade_to_head,
)
from testkit.locks import waiting_on_a_lock
from testkit.polling import eventually

pytestmark = pytest.mark.integration

SCRIPTS = Path(__file__).parent / "alembic_scripts"


async def tables_in(database_url: str) -> set[str]:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await connection.close()
    return {row["tablename"] for row in rows}


async def test_upgrade_to_head_creates_the_tables_and_reaches_head(database_url: str) -> None:
    assert not await is_at_head(SCRIPTS, database_url)

    await upgrade_to_head(SCRIPTS, database_url)

    assert await is_at_head(SCRIPTS, database_url)
    assert {"alembic_version", "outbox", "inbox", "idempotency_keys", "widgets"} <= await tables_in(
        database_url
    )


async def test_the_chassis_tables_come_from_the_chassis_branch(database_url: str) -> None:
    assert MigrationScripts.load(SCRIPTS).heads == {"r2", "chassis_0003"}

    await upgrade(SCRIPTS, database_url, "chassis@head")

    assert {"outbox", "inbox", "idempotency_keys"} <= await tables_in(database_url)
    assert "gadgets" not in await tables_in(database_url)
    assert not await is_at_head(SCRIPTS, database_url)
    await upgrade_to_head(SCRIPTS, database_url)
    assert await is_at_head(SCRIPTS, database_url)


async def test_upgrading_again_changes_nothing(database_url: str) -> None:
    await upgrade_to_head(SCRIPTS, database_url)
    await upgrade_to_head(SCRIPTS, database_url)

    assert await is_at_head(SCRIPTS, database_url)


async def test_concurrent_upgrades_in_one_process_take_turns(database_url: str) -> None:
    await asyncio.gather(*(upgrade_to_head(SCRIPTS, database_url) for _ in range(3)))

    assert await is_at_head(SCRIPTS, database_url)


async def test_an_upgrade_waits_while_another_process_migrates(database_url: str) -> None:
    other_process = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await other_process.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        upgrading = asyncio.create_task(upgrade_to_head(SCRIPTS, database_url))
        await eventually(lambda: waiting_on_a_lock(database_url), what="the upgrade waiting for the lock")
        assert not upgrading.done()
        await other_process.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        await asyncio.wait_for(upgrading, 30)
    finally:
        await other_process.close()

    assert await is_at_head(SCRIPTS, database_url)


async def test_a_database_one_revision_short_is_behind(database_url: str) -> None:
    from chassis.db import create_engine

    await upgrade(SCRIPTS, database_url, "r1")
    engine = create_engine(database_url)
    try:
        assert await current_revisions(engine) == ("r1",)
        assert await migration_state(engine, MigrationScripts.load(SCRIPTS)) is MigrationState.BEHIND
    finally:
        await engine.dispose()
    assert not await is_at_head(SCRIPTS, database_url)


async def test_a_database_migrated_by_a_newer_build_is_ahead(database_url: str) -> None:
    from chassis.db import create_engine

    await upgrade_to_head(SCRIPTS, database_url)
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await connection.execute(
            "UPDATE alembic_version SET version_num = 'r3_from_the_future' WHERE version_num = 'r2'"
        )
    finally:
        await connection.close()
    engine = create_engine(database_url)
    try:
        assert await migration_state(engine, MigrationScripts.load(SCRIPTS)) is MigrationState.AHEAD
    finally:
        await engine.dispose()


async def test_the_alembic_command_line_path_runs_on_its_own_engine(database_url: str) -> None:
    # As `alembic upgrade heads` would: env.py gets no connection and no running event loop.
    await asyncio.to_thread(command.upgrade, alembic_config(SCRIPTS, database_url), "heads")

    assert await is_at_head(SCRIPTS, database_url)


def test_offline_mode_prints_the_sql(capsys: pytest.CaptureFixture[str]) -> None:
    command.upgrade(alembic_config(SCRIPTS, "postgresql://nobody@127.0.0.1:1/none"), "heads", sql=True)

    sql = capsys.readouterr().out
    assert "CREATE TABLE outbox" in sql
    assert "CREATE TABLE widgets" in sql
