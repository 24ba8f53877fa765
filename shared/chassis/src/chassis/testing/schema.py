"""Comparing a migrated database with what a service's tables describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData

import chassis.tables
from chassis.db import create_engine


async def schema_differences(database_url: str, metadata: MetaData) -> list[object]:
    """What Alembic's autogenerate would change to make the database match ``metadata`` and the chassis'."""

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        # Alembic compares a list of MetaData as env.py hands it over, though its stubs name only one.
        both: Any = [metadata, chassis.tables.metadata]
        return list(compare_metadata(context, both))

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(differences)
    finally:
        await engine.dispose()
