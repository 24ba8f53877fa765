"""Alembic environment of ordering: its own tables and the chassis tables, in one database."""

from chassis import chassis_metadata, run_migrations
from ordering.adapters.tables import metadata

run_migrations(target_metadata=[metadata, chassis_metadata])
