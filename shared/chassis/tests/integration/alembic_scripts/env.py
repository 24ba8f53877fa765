"""A test-only Alembic environment, written as a service's would be."""

import chassis.tables
from chassis.migrations import run_migrations

run_migrations(target_metadata=[chassis.tables.metadata])
