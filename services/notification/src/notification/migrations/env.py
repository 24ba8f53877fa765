"""Alembic environment of notification: its own table and the chassis tables, in one database."""

import chassis.tables
from chassis.migrations import run_migrations
from notification.adapters.tables import metadata

run_migrations(target_metadata=[metadata, chassis.tables.metadata])
