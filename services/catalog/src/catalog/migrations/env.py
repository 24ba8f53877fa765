"""Alembic environment of catalog: its own tables and the chassis tables, in one database."""

import chassis.tables
from catalog.adapters.tables import metadata
from chassis.migrations import run_migrations

run_migrations(target_metadata=[metadata, chassis.tables.metadata])
