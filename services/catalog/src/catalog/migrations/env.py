"""Alembic environment of catalog: its own tables and the chassis tables, in one database."""

from catalog.adapters.tables import metadata
from chassis import chassis_metadata, run_migrations

run_migrations(target_metadata=[metadata, chassis_metadata])
