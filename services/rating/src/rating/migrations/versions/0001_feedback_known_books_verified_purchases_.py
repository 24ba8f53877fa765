"""feedback, known books and verified purchases

Revision ID: 0001
Revises:
Create Date: 2026-11-23 10:53:28.456600
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
        "feedback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("book_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("stars", sa.SmallInteger(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("verified_purchase", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(deleted_at IS NULL) = (stars IS NOT NULL)", name=op.f("ck_feedback_stars_unless_deleted")
        ),
        sa.CheckConstraint("stars BETWEEN 1 AND 5", name=op.f("ck_feedback_stars_range")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_feedback_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint("book_id", "customer_id", name="uq_feedback_book_id_customer_id"),
    )
    op.create_index(
        "feedback_newest",
        "feedback",
        ["book_id", sa.literal_column("submitted_at DESC"), sa.literal_column("id DESC")],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "feedback_verified_newest",
        "feedback",
        [
            "book_id",
            sa.literal_column("verified_purchase DESC"),
            sa.literal_column("submitted_at DESC"),
            sa.literal_column("id DESC"),
        ],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "known_books",
        sa.Column("book_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("book_id", name=op.f("pk_known_books")),
    )
    op.create_table(
        "verified_purchases",
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("book_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("purchased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "book_id", name=op.f("pk_verified_purchases")),
    )


def downgrade() -> None:
    op.drop_table("verified_purchases")
    op.drop_table("known_books")
    op.drop_index(
        "feedback_verified_newest", table_name="feedback", postgresql_where=sa.text("deleted_at IS NULL")
    )
    op.drop_index("feedback_newest", table_name="feedback", postgresql_where=sa.text("deleted_at IS NULL"))
    op.drop_table("feedback")
