"""Notifications

Revision ID: 0001
Revises:
Create Date: 2026-11-23 10:58:09.638639
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
# The chassis tables (outbox, inbox, idempotency keys) come from the chassis branch.
depends_on: str | Sequence[str] | None = "chassis_0001"


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_message_id", sa.Uuid(), nullable=False),
        sa.Column("source_type", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed', 'uncertain')",
            name=op.f("ck_notifications_known_status"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_notifications_attempts_counted")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("source_message_id", name=op.f("uq_notifications_source_message_id")),
    )
    op.create_index(
        "notifications_by_customer",
        "notifications",
        ["customer_id", sa.literal_column("created_at DESC"), "id"],
        unique=False,
    )
    op.create_index(
        "notifications_by_order",
        "notifications",
        ["order_id", sa.literal_column("created_at DESC"), "id"],
        unique=False,
    )
    op.create_index(
        "notifications_due",
        "notifications",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "notifications_sending",
        "notifications",
        ["claimed_at"],
        unique=False,
        postgresql_where=sa.text("status = 'sending'"),
    )


def downgrade() -> None:
    op.drop_index(
        "notifications_sending", table_name="notifications", postgresql_where=sa.text("status = 'sending'")
    )
    op.drop_index(
        "notifications_due", table_name="notifications", postgresql_where=sa.text("status = 'pending'")
    )
    op.drop_index("notifications_by_order", table_name="notifications")
    op.drop_index("notifications_by_customer", table_name="notifications")
    op.drop_table("notifications")
