"""Alembic environment of notification: its own table and the chassis tables, in one database."""

from chassis import chassis_metadata, run_migrations
from notification.adapters.tables import metadata

run_migrations(target_metadata=[metadata, chassis_metadata])
