"""A service's first revision: its chassis tables come from the chassis branch it depends on.

Revision ID: r1
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "r1"
down_revision = None
branch_labels = None
depends_on = "chassis_0001"


def upgrade() -> None:
    op.create_table("gadgets", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("gadgets")
