"""The sender's claim indexes cover the claims' whole order, (next_attempt_at, id) and (claimed_at, id).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")
SENDING = sa.text("status = 'sending'")


def upgrade() -> None:
    # Both indexes hold only rows in flight, so rebuilding them is quick however long the history is.
    op.drop_index("notifications_due", table_name="notifications", postgresql_where=PENDING)
    op.create_index("notifications_due", "notifications", ["next_attempt_at", "id"], postgresql_where=PENDING)
    op.drop_index("notifications_sending", table_name="notifications", postgresql_where=SENDING)
    op.create_index("notifications_sending", "notifications", ["claimed_at", "id"], postgresql_where=SENDING)


def downgrade() -> None:
    op.drop_index("notifications_sending", table_name="notifications", postgresql_where=SENDING)
    op.create_index("notifications_sending", "notifications", ["claimed_at"], postgresql_where=SENDING)
    op.drop_index("notifications_due", table_name="notifications", postgresql_where=PENDING)
    op.create_index("notifications_due", "notifications", ["next_attempt_at"], postgresql_where=PENDING)
