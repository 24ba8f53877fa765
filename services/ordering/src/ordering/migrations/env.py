"""Alembic environment of ordering: its own tables and the chassis tables, in one database."""

import chassis.tables
from chassis.migrations import run_migrations
from ordering.adapters.tables import metadata

run_migrations(target_metadata=[metadata, chassis.tables.metadata])
