"""Outbox rows the relay gave up on (failed_at), and indexes that match the hot queries

- ``outbox.failed_at``: set when a row has failed too many times; the relay no longer takes it.
- ``outbox_due`` replaces ``outbox_pending``: the take query filters on both ``published_at IS NULL`` and
  ``failed_at IS NULL`` and orders by ``(available_at, id)``, exactly this index, so a batch is one short
  index range scan however many published rows the table retains.
- ``outbox_failed``: the failed rows, for the metrics and an operator's retry.
- ``idempotency_keys_created_at``: pruning deletes keys by age.

Revision ID: chassis_0002
Revises: chassis_0001
Create Date: 2026-12-01 09:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "chassis_0002"
down_revision: str | None = "chassis_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_index("outbox_pending", table_name="outbox", postgresql_where=sa.text("published_at IS NULL"))
    op.create_index(
        "outbox_due",
        "outbox",
        ["available_at", "id"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL AND failed_at IS NULL"),
    )
    op.create_index(
        "outbox_failed", "outbox", ["id"], unique=False, postgresql_where=sa.text("failed_at IS NOT NULL")
    )
    op.create_index("idempotency_keys_created_at", "idempotency_keys", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_index("outbox_failed", table_name="outbox")
    op.drop_index("outbox_due", table_name="outbox")
    op.create_index(
        "outbox_pending",
        "outbox",
        ["available_at", "id"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_column("outbox", "failed_at")
