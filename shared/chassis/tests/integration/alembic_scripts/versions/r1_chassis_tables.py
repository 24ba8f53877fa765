"""The chassis tables (outbox, inbox, idempotency keys).

Revision ID: r1
Revises:
"""

from alembic import op

import chassis.tables

revision = "r1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    chassis.tables.metadata.create_all(op.get_bind())


def downgrade() -> None:
    chassis.tables.metadata.drop_all(op.get_bind())
