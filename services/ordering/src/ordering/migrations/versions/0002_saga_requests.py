"""Sagas remember the request they wait on, when it was first sent and since when they wait; an index of
the sagas not yet finished

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("order_sagas", sa.Column("request_id", sa.Uuid(), nullable=True))
    op.add_column("order_sagas", sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("order_sagas", sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
    # Releasing had no deadline: give each such saga one now, so that its ReleaseStock is chased.
    op.execute(
        "UPDATE order_sagas SET deadline_at = now(), waiting_since = updated_at"
        " WHERE state = 'releasing' AND deadline_at IS NULL"
    )
    op.execute("UPDATE order_sagas SET waiting_since = updated_at WHERE deadline_at IS NOT NULL")
    op.create_index(
        "order_sagas_active",
        "order_sagas",
        ["state"],
        unique=False,
        postgresql_where=sa.text(
            "state IN ('awaiting_stock', 'cancel_requested_awaiting_stock', 'confirmed', 'releasing')"
        ),
    )


def downgrade() -> None:
    op.drop_index("order_sagas_active", table_name="order_sagas")
    op.execute("UPDATE order_sagas SET deadline_at = NULL WHERE state = 'releasing'")
    op.drop_column("order_sagas", "waiting_since")
    op.drop_column("order_sagas", "sent_at")
    op.drop_column("order_sagas", "request_id")
