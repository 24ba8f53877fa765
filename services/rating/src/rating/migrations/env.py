"""Alembic environment of rating: its own tables and the chassis tables, in one database."""

from chassis import chassis_metadata, run_migrations
from rating.adapters.tables import metadata

run_migrations(target_metadata=[metadata, chassis_metadata])
