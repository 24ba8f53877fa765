"""Notification's own table; the chassis tables (outbox, inbox, idempotency keys) live beside it."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    text,
)

from chassis import service_metadata

metadata = service_metadata()

STATUSES = ("pending", "sending", "sent", "failed", "uncertain")

# NOTIFYed when a notification is recorded: the sender, sleeping until the next due row, wakes for it.
NOTIFICATION_CHANNEL = "notification_recorded"

notifications = Table(
    "notifications",
    metadata,
    Column("id", Uuid, primary_key=True),
    # One notification per source message, whatever the broker redelivers and whenever the inbox is pruned.
    Column("source_message_id", Uuid, nullable=False, unique=True),
    Column("source_type", Text, nullable=False),
    Column("order_id", Uuid, nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("template", String(64), nullable=False),
    # Rendered once, when recorded: every attempt sends the same e-mail.
    Column("subject", Text, nullable=False),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text, nullable=False),
    Column(
        "status",
        String(16),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})", name="known_status"),
        nullable=False,
    ),
    Column("attempts", Integer, CheckConstraint("attempts >= 0", name="attempts_counted"), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    # W3C trace context of the handler that recorded the row; the sender's hand-off continues it.
    Column("traceparent", Text, nullable=True),
    # The claim that started the attempt in flight (see Notification.claim_id).
    Column("claim_id", Uuid, nullable=True),
)
# The sender's two scans touch only rows in flight; partial indexes keep them small as sent rows pile up,
# and their columns are the scans' order, so a claim reads its first rows from the index without a sort.
Index(
    "notifications_due",
    notifications.c.next_attempt_at,
    notifications.c.id,
    postgresql_where=text("status = 'pending'"),
)
Index(
    "notifications_sending",
    notifications.c.claimed_at,
    notifications.c.id,
    postgresql_where=text("status = 'sending'"),
)
Index(
    "notifications_by_customer",
    notifications.c.customer_id,
    notifications.c.created_at.desc(),
    notifications.c.id,
)
Index(
    "notifications_by_order",
    notifications.c.order_id,
    notifications.c.created_at.desc(),
    notifications.c.id,
)
