"""The migrations build exactly the schema the tables describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import chassis.tables
from notification.adapters.tables import metadata

pytestmark = pytest.mark.integration


async def test_the_migrated_schema_is_exactly_what_the_tables_describe(engine: AsyncEngine) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, [metadata, chassis.tables.metadata]))

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []
