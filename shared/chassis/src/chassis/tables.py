"""The tables every service's database holds for reliable messaging and HTTP idempotency.

The chassis migrates them itself (the ``chassis`` Alembic branch in ``chassis/migrations_versions``, which
each service's first revision depends on); a service's env.py still lists this metadata beside its own
(``target_metadata = [service metadata, chassis.tables.metadata]``) so autogenerate sees them as known.
"""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    Uuid,
    event,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

# Constraint names every service's own tables follow, so migrations name them the same way each time.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata() -> MetaData:
    """A service's own ``MetaData``, with the shared constraint naming convention."""
    return MetaData(naming_convention=NAMING_CONVENTION)


# The chassis' own tables keep the names their published migration gave them (no convention).
metadata = MetaData()

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("message_id", Uuid, nullable=False, unique=True),
    Column("exchange", Text, nullable=False),
    Column("routing_key", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("headers", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # A failed publish is retried no sooner than this (backoff).
    Column("available_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    # Set when the relay gave up on the row (too many failed attempts); the relay no longer takes it.
    Column("failed_at", DateTime(timezone=True), nullable=True),
)
# The relay's take query walks exactly this index (same predicate, same order), so a batch costs the same
# whatever the number of published or failed rows beside it.
Index(
    "outbox_due",
    outbox.c.available_at,
    outbox.c.id,
    postgresql_where=outbox.c.published_at.is_(None) & outbox.c.failed_at.is_(None),
)
Index("outbox_failed", outbox.c.id, postgresql_where=outbox.c.failed_at.is_not(None))
Index("outbox_published_at", outbox.c.published_at, postgresql_where=outbox.c.published_at.is_not(None))

inbox = Table(
    "inbox",
    metadata,
    Column("consumer", Text, primary_key=True),
    Column("message_id", Uuid, primary_key=True),
    Column("message_type", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("inbox_received_at", inbox.c.received_at)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # Keys are scoped to the caller, so two customers choosing the same key never see each other's answer.
    Column("principal", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("method", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("request_hash", Text, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("response_headers", JSONB, nullable=True),
    Column("response_body", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
# Pruning deletes by age.
Index("idempotency_keys_created_at", idempotency_keys.c.created_at)

# Channel notified (on commit) by every transaction that inserted outbox rows; the relay listens on it.
OUTBOX_CHANNEL = "folio_outbox"


def _ddl(statement: str) -> DDL:
    return DDL(statement)  # type: ignore[no-untyped-call]  # SQLAlchemy's DDL() has no annotations


# The wake-up is a statement-level trigger, not a statement of the unit of work's: it rides on the
# outbox INSERT's own round trip. A rolled-back transaction notifies nobody, and PostgreSQL folds the
# identical notifications of one transaction into one. Migrated by chassis_0003; ``metadata.create_all``
# (tests, benchmarks) creates it too, so that they behave as a migrated database does.
OUTBOX_NOTIFY_FUNCTION = _ddl(
    f"""CREATE OR REPLACE FUNCTION folio_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{OUTBOX_CHANNEL}', '');
    RETURN NULL;
END
$$"""
)
OUTBOX_NOTIFY_TRIGGER = _ddl(
    "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
    "FOR EACH STATEMENT EXECUTE FUNCTION folio_outbox_notify()"
)
event.listen(outbox, "after_create", OUTBOX_NOTIFY_FUNCTION)
event.listen(outbox, "after_create", OUTBOX_NOTIFY_TRIGGER)
event.listen(outbox, "after_drop", _ddl("DROP FUNCTION IF EXISTS folio_outbox_notify()"))
