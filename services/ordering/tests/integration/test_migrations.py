"""Ordering's migrations give exactly what its tables describe (0002 included)."""

from __future__ import annotations

import pytest

from chassis.migrations import is_at_head
from chassis.testing.schema import schema_differences
from ordering.adapters.tables import metadata
from ordering.entrypoints.definition import MIGRATIONS_DIR

pytestmark = pytest.mark.integration


async def test_the_migrated_database_is_at_head_and_matches_the_tables(ordering_database) -> None:
    assert await is_at_head(MIGRATIONS_DIR, ordering_database)
    assert await schema_differences(ordering_database, metadata) == []
