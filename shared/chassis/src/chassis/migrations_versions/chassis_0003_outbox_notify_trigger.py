"""The outbox wakes the relay itself: a statement-level AFTER INSERT trigger notifies ``folio_outbox``

Until now the unit of work sent ``SELECT pg_notify('folio_outbox', '')`` after its outbox INSERT, one more
round trip per transaction; the trigger sends the same notification from inside the INSERT (delivered on
commit only, folded into one per transaction by PostgreSQL), for every writer of the outbox.

Revision ID: chassis_0003
Revises: chassis_0002
Create Date: 2026-12-01 19:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "chassis_0003"
down_revision: str | None = "chassis_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """CREATE OR REPLACE FUNCTION folio_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('folio_outbox', '');
    RETURN NULL;
END
$$"""
    )
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION folio_outbox_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER outbox_notify ON outbox")
    op.execute("DROP FUNCTION folio_outbox_notify()")
