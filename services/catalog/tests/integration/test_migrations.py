import pytest
from sqlalchemy import text

from catalog.adapters.tables import metadata
from catalog.entrypoints.definition import MIGRATIONS_DIR
from chassis.db import create_engine
from chassis.migrations import is_at_head, upgrade_to_head
from testkit.migrations import migration_drift

pytestmark = pytest.mark.integration


async def test_migrating_a_fresh_database_gives_exactly_what_the_tables_describe(database_url: str) -> None:
    assert await migration_drift(MIGRATIONS_DIR, database_url, metadata) == []
    assert await is_at_head(MIGRATIONS_DIR, database_url)

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM book_view"))).scalar_one() == 0
    finally:
        await engine.dispose()


async def test_migrating_twice_changes_nothing(database_url: str) -> None:
    await upgrade_to_head(MIGRATIONS_DIR, database_url)
    await upgrade_to_head(MIGRATIONS_DIR, database_url)
    assert await is_at_head(MIGRATIONS_DIR, database_url)
