"""The migration-drift check: a service's Alembic scripts build exactly what its tables describe.

One function for every service's ``tests/integration/test_migrations.py``: a model changed without a
revision (or a revision that does not match the model) shows up as the list of what Alembic's autogenerate
would still change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData

import chassis.tables
from chassis.db import create_engine
from chassis.migrations import is_at_head, upgrade_to_head


async def migration_drift(script_location: str | Path, database_url: str, metadata: MetaData) -> list[object]:
    """Migrate ``database_url`` to every head, then list what would still make it match ``metadata``.

    Empty when the scripts and the tables agree. Scripts that leave the database short of a head (a broken
    ``depends_on``, say) are reported too, whatever the comparison would say.
    """
    await upgrade_to_head(script_location, database_url)
    if not await is_at_head(script_location, database_url):
        return [f"not at the heads of {script_location}"]
    return await schema_differences(database_url, metadata)


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
