"""Ordering's own tables; the chassis tables (outbox, inbox, idempotency keys) live beside them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
)

from chassis import service_metadata

metadata = service_metadata()

orders = Table(
    "orders",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("customer_id", Text, nullable=False),
    Column("customer_email", Text, nullable=False),
    Column("status", String(16), nullable=False),
    # Set once the catalog priced the order.
    Column("total_amount", Numeric, nullable=True),
    Column("currency", String(3), nullable=True),
    # Why the order ended without a sale.
    Column("reason", Text, nullable=True),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("orders_by_customer", orders.c.customer_id, orders.c.placed_at.desc(), orders.c.id)
Index("orders_by_placed_at", orders.c.placed_at.desc(), orders.c.id)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", Uuid, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("book_id", Uuid, primary_key=True),
    # Keeps the customer's order of lines.
    Column("position", Integer, nullable=False),
    Column("quantity", Integer, CheckConstraint("quantity > 0", name="positive_quantity"), nullable=False),
    Column("unit_price", Numeric, nullable=True),
    Column("currency", String(3), nullable=True),
)

sagas = Table(
    "order_sagas",
    metadata,
    Column("order_id", Uuid, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("state", String(40), nullable=False),
    # Optimistic concurrency: every save is ``UPDATE ... WHERE version = :seen`` and bumps it.
    Column("version", Integer, nullable=False),
    # Requests sent in the current wait.
    Column("attempts", Integer, nullable=False),
    # Set exactly while the saga waits on the catalog (awaiting_stock, cancel_requested…, releasing).
    Column("deadline_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The outbox message id of the request waited on; the scanner reads its published_at by it.
    Column("request_id", Uuid, nullable=True),
    # When the current wait's first request left the outbox: the give-up horizon counts from here.
    Column("sent_at", DateTime(timezone=True), nullable=True),
    # When the current wait began.
    Column("waiting_since", DateTime(timezone=True), nullable=True),
)
# The deadline scanner's whole working set: sagas still waiting for the catalog (terminal and confirmed
# sagas have no deadline, so the index stays as small as the sagas in flight, whatever the history).
Index("order_sagas_due", sagas.c.deadline_at, postgresql_where=sagas.c.deadline_at.is_not(None))
# Sagas not yet finished, for the per-state counts that metrics scrape (terminal ones are history).
ACTIVE_STATES = ("awaiting_stock", "cancel_requested_awaiting_stock", "confirmed", "releasing")
Index("order_sagas_active", sagas.c.state, postgresql_where=sagas.c.state.in_(ACTIVE_STATES))

order_history = Table(
    "order_history",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("order_id", Uuid, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    # One word for what happened (placed, confirmed, reserve_stock_resent, ignored, ...).
    Column("change", String(40), nullable=False),
    Column("detail", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("saga_state", String(40), nullable=False),
    # What caused it: a message (its id and type), a request, or the deadline scanner.
    Column("cause_type", Text, nullable=False),
    Column("cause_id", Text, nullable=True),
)
Index("order_history_timeline", order_history.c.order_id, order_history.c.id)

# The per-customer read model is a view (created by migration 0001), so it never drifts from the orders.
# Kept on its own MetaData: Alembic must not take it for a table to create.
views = MetaData()
order_summaries = Table(
    "order_summaries",
    views,
    Column("order_id", Uuid, primary_key=True),
    Column("customer_id", Text),
    Column("status", String(16)),
    Column("total_amount", Numeric),
    Column("currency", String(3)),
    Column("item_count", BigInteger),
    Column("line_count", BigInteger),
    Column("placed_at", DateTime(timezone=True)),
    Column("last_change_at", DateTime(timezone=True)),
)
