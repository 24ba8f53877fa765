"""Ordering's migrations give exactly what its tables describe (0002 included)."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

import chassis.tables
from chassis.db import create_engine
from chassis.migrations import is_at_head
from ordering.adapters.tables import metadata
from ordering.entrypoints.definition import MIGRATIONS_DIR

pytestmark = pytest.mark.integration


async def test_the_migrated_database_is_at_head_and_matches_the_tables(ordering_database) -> None:
    assert await is_at_head(MIGRATIONS_DIR, ordering_database)

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        both: Any = [metadata, chassis.tables.metadata]
        return list(compare_metadata(context, both))

    engine = create_engine(ordering_database)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()
