from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

import chassis.tables
from catalog.adapters.tables import metadata
from catalog.entrypoints.definition import MIGRATIONS_DIR
from chassis.db import create_engine
from chassis.migrations import is_at_head, upgrade_to_head

pytestmark = pytest.mark.integration


async def test_migrating_a_fresh_database_gives_exactly_what_the_tables_describe(database_url: str) -> None:
    await upgrade_to_head(MIGRATIONS_DIR, database_url)
    assert await is_at_head(MIGRATIONS_DIR, database_url)

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        # Alembic compares a list of MetaData as env.py hands it over, though its stubs name only one.
        both: Any = [metadata, chassis.tables.metadata]
        return list(compare_metadata(context, both))

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
            assert (await connection.execute(text("SELECT count(*) FROM book_view"))).scalar_one() == 0
    finally:
        await engine.dispose()


async def test_migrating_twice_changes_nothing(database_url: str) -> None:
    await upgrade_to_head(MIGRATIONS_DIR, database_url)
    await upgrade_to_head(MIGRATIONS_DIR, database_url)
    assert await is_at_head(MIGRATIONS_DIR, database_url)
