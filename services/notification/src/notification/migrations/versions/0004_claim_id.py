"""Notifications remember which claim started the attempt in flight, so that a worker that never heard
whether its claim committed can take back its own rows instead of leaving them to end ``uncertain``.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable with no default: a catalog-only change, however many rows the table holds.
    op.add_column("notifications", sa.Column("claim_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column("notifications", "claim_id")
