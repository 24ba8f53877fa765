"""Rating's Alembic migrations build exactly the schema its tables describe, chassis tables included."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import chassis.tables
from chassis.migrations import is_at_head
from rating.adapters.tables import metadata
from rating.entrypoints.definition import MIGRATIONS_DIR

pytestmark = pytest.mark.integration


async def test_the_migrated_schema_is_exactly_what_the_tables_describe(engine: AsyncEngine) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, [metadata, chassis.tables.metadata]))

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_a_migrated_database_is_at_the_head_revision(rating_db: str) -> None:
    assert await is_at_head(MIGRATIONS_DIR, rating_db)
