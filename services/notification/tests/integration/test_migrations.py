"""The migrations build exactly the schema the tables describe."""

from __future__ import annotations

import pytest

from chassis.migrations import is_at_head
from notification.adapters.tables import metadata
from notification.entrypoints.definition import MIGRATIONS_DIR
from testkit.migrations import migration_drift

pytestmark = pytest.mark.integration


async def test_migrating_a_fresh_database_gives_exactly_what_the_tables_describe(database_url: str) -> None:
    assert await migration_drift(MIGRATIONS_DIR, database_url, metadata) == []
    assert await is_at_head(MIGRATIONS_DIR, database_url)


async def test_the_suites_database_matches_the_tables(migrated_database: str) -> None:
    assert await migration_drift(MIGRATIONS_DIR, migrated_database, metadata) == []
