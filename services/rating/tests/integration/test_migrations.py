"""Rating's Alembic migrations build exactly the schema its tables describe, chassis tables included."""

from __future__ import annotations

import pytest

from chassis.migrations import is_at_head
from rating.adapters.tables import metadata
from rating.entrypoints.definition import MIGRATIONS_DIR
from testkit.migrations import migration_drift

pytestmark = pytest.mark.integration


async def test_migrating_a_fresh_database_gives_exactly_what_the_tables_describe(database_url: str) -> None:
    assert await migration_drift(MIGRATIONS_DIR, database_url, metadata) == []
    assert await is_at_head(MIGRATIONS_DIR, database_url)


async def test_a_migrated_database_is_at_the_head_revision(rating_db: str) -> None:
    assert await is_at_head(MIGRATIONS_DIR, rating_db)
