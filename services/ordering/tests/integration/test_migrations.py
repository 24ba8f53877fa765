"""Ordering's migrations give exactly what its tables describe (0002 included)."""

from __future__ import annotations

import pytest

from chassis.migrations import is_at_head
from ordering.adapters.tables import metadata
from ordering.entrypoints.definition import MIGRATIONS_DIR
from testkit.migrations import migration_drift

pytestmark = pytest.mark.integration


async def test_migrating_a_fresh_database_gives_exactly_what_the_tables_describe(database_url: str) -> None:
    assert await migration_drift(MIGRATIONS_DIR, database_url, metadata) == []
    assert await is_at_head(MIGRATIONS_DIR, database_url)


async def test_the_suites_database_is_at_head_and_matches_the_tables(ordering_database: str) -> None:
    assert await is_at_head(MIGRATIONS_DIR, ordering_database)
    assert await migration_drift(MIGRATIONS_DIR, ordering_database, metadata) == []
