"""Rating's own tables: feedback (with tombstones), the replica of known books, and verified purchases."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)

from chassis import service_metadata

metadata = service_metadata()

feedback = Table(
    "feedback",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("book_id", Uuid, nullable=False),
    Column("customer_id", Text, nullable=False),
    # Null once deleted (the row stays as a tombstone that keeps the version counter).
    Column("stars", SmallInteger, nullable=True),
    Column("comment", Text, nullable=True),
    Column("verified_purchase", Boolean, nullable=False, server_default=text("false")),
    Column("version", Integer, nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("book_id", "customer_id", name="uq_feedback_book_id_customer_id"),
    CheckConstraint("stars BETWEEN 1 AND 5", name="stars_range"),
    CheckConstraint("(deleted_at IS NULL) = (stars IS NOT NULL)", name="stars_unless_deleted"),
    CheckConstraint("version >= 1", name="version_positive"),
)
# A book's live feedback, newest first, optionally verified first: the two listings the API offers.
Index(
    "feedback_newest",
    feedback.c.book_id,
    feedback.c.submitted_at.desc(),
    feedback.c.id.desc(),
    postgresql_where=feedback.c.deleted_at.is_(None),
)
Index(
    "feedback_verified_newest",
    feedback.c.book_id,
    feedback.c.verified_purchase.desc(),
    feedback.c.submitted_at.desc(),
    feedback.c.id.desc(),
    postgresql_where=feedback.c.deleted_at.is_(None),
)

known_books = Table(
    "known_books",
    metadata,
    Column("book_id", Uuid, primary_key=True),
    # Null while only the book's deletion has been heard of (a tombstone).
    Column("created_at", DateTime(timezone=True), nullable=True),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

verified_purchases = Table(
    "verified_purchases",
    metadata,
    Column("customer_id", Text, primary_key=True),
    Column("book_id", Uuid, primary_key=True),
    # The first completed order that contained the book.
    Column("order_id", Uuid, nullable=False),
    Column("purchased_at", DateTime(timezone=True), nullable=False),
)
