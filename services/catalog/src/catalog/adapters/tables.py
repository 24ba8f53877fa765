"""Catalog's own tables (write side, reservations, the rating projection) and the browsing view.

Migrations (``catalog/migrations``) create all of it; the view is SQL written there, described
here only so that queries can be built against it.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR

from chassis import service_metadata

metadata = service_metadata()

# Two decimals, like the domain's Money; ten digits before the point.
PRICE = Numeric(12, 2)
# The text search configuration for titles and descriptions (stemming for English).
SEARCH_CONFIG = "english"


def _created_at() -> Column[object]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


authors = Table(
    "authors",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    _created_at(),
)
Index("ix_authors_name", authors.c.name)

categories = Table(
    "categories",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    _created_at(),
)
# "Science Fiction" and "science fiction" are one category.
Index("uq_categories_lower_name", func.lower(categories.c.name), unique=True)

publishers = Table(
    "publishers",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    _created_at(),
)
Index("uq_publishers_lower_name", func.lower(publishers.c.name), unique=True)

SEARCH_VECTOR = (
    f"setweight(to_tsvector('{SEARCH_CONFIG}'::regconfig, title), 'A') || "
    f"setweight(to_tsvector('{SEARCH_CONFIG}'::regconfig, description), 'B')"
)

books = Table(
    "books",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("isbn", String(13), nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("category_id", Uuid, ForeignKey("categories.id"), nullable=True),
    Column("publisher_id", Uuid, ForeignKey("publishers.id"), nullable=True),
    Column("price_amount", PRICE, nullable=False),
    Column("price_currency", String(3), nullable=False),
    Column("stock", Integer, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    _created_at(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    Column("search_vector", TSVECTOR, Computed(SEARCH_VECTOR, persisted=True), nullable=False),
    # The database's own guard against overselling, whatever the code above it does.
    CheckConstraint("stock >= 0", name="stock_not_negative"),
    CheckConstraint("price_amount >= 0", name="price_not_negative"),
)
# A deleted book gives its ISBN back: a new edition of the record may take it.
Index("uq_books_isbn_live", books.c.isbn, unique=True, postgresql_where=books.c.deleted_at.is_(None))
Index("ix_books_category_id", books.c.category_id)
Index("ix_books_publisher_id", books.c.publisher_id)
Index("ix_books_price_amount", books.c.price_amount)
Index("ix_books_search_vector", books.c.search_vector, postgresql_using="gin")

book_authors = Table(
    "book_authors",
    metadata,
    Column("book_id", Uuid, ForeignKey("books.id", ondelete="CASCADE"), primary_key=True),
    Column("author_id", Uuid, ForeignKey("authors.id"), primary_key=True),
    # Authors keep the order they were given in (first author first).
    Column("position", Integer, nullable=False),
)
Index("ix_book_authors_author_id", book_authors.c.author_id)

stock_reservations = Table(
    "stock_reservations",
    metadata,
    # One reservation per order: the key that makes ReserveStock idempotent.
    Column("order_id", Uuid, primary_key=True),
    Column("status", Text, nullable=False),
    # Why a rejected reservation holds nothing: [{book_id, reason, requested, available}].
    Column("rejections", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    _created_at(),
    Column("released_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("status IN ('held', 'rejected', 'released')", name="status_known"),
)

stock_reservation_lines = Table(
    "stock_reservation_lines",
    metadata,
    Column(
        "order_id",
        Uuid,
        ForeignKey("stock_reservations.order_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("book_id", Uuid, ForeignKey("books.id"), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_amount", PRICE, nullable=False),
    Column("unit_price_currency", String(3), nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
)
Index("ix_stock_reservation_lines_book_id", stock_reservation_lines.c.book_id)

# Rating projection: the latest known feedback of each customer on each book. Keeping one row per
# (book, customer) with the version it came from makes duplicates and reordered events harmless.
customer_ratings = Table(
    "customer_ratings",
    metadata,
    Column("book_id", Uuid, primary_key=True),
    Column("customer_id", Text, primary_key=True),
    Column("feedback_id", Uuid, nullable=False),
    # NULL once the feedback was deleted: the row stays, with its version, to outrank older events.
    Column("stars", Integer, nullable=True),
    Column("version", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False, server_default=text("false")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(
        "(deleted AND stars IS NULL) OR (NOT deleted AND stars BETWEEN 1 AND 5)", name="stars_unless_deleted"
    ),
)

# Per-book totals recomputed from customer_ratings on every change, so that browsing never aggregates.
book_ratings = Table(
    "book_ratings",
    metadata,
    Column("book_id", Uuid, primary_key=True),
    Column("rating_count", Integer, nullable=False, server_default="0"),
    Column("rating_sum", Integer, nullable=False, server_default="0"),
)

# The browsing view: described on its own MetaData so that nothing ever tries to create it as a table.
views = MetaData()
book_view = Table(
    "book_view",
    views,
    Column("id", Uuid, primary_key=True),
    Column("isbn", String(13)),
    Column("title", Text),
    Column("description", Text),
    Column("price_amount", PRICE),
    Column("price_currency", String(3)),
    Column("stock", Integer),
    Column("in_stock", Boolean),
    Column("category_id", Uuid),
    Column("category", Text),
    Column("publisher_id", Uuid),
    Column("publisher", Text),
    Column("author_ids", ARRAY(Uuid)),
    Column("author_names", ARRAY(Text)),
    Column("rating_count", Integer),
    Column("average_rating", Numeric(3, 2)),
    Column("search_vector", TSVECTOR),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)

BOOK_VIEW_SQL = """
CREATE VIEW book_view AS
SELECT
    b.id,
    b.isbn,
    b.title,
    b.description,
    b.price_amount,
    b.price_currency,
    b.stock,
    b.stock > 0 AS in_stock,
    b.category_id,
    c.name AS category,
    b.publisher_id,
    p.name AS publisher,
    ARRAY(
        SELECT ba.author_id FROM book_authors ba WHERE ba.book_id = b.id ORDER BY ba.position
    ) AS author_ids,
    ARRAY(
        SELECT a.name FROM book_authors ba JOIN authors a ON a.id = ba.author_id
        WHERE ba.book_id = b.id ORDER BY ba.position
    ) AS author_names,
    COALESCE(r.rating_count, 0) AS rating_count,
    CASE WHEN r.rating_count > 0 THEN ROUND(r.rating_sum::numeric / r.rating_count, 2) END
        AS average_rating,
    b.search_vector,
    b.created_at,
    b.updated_at
FROM books b
LEFT JOIN categories c ON c.id = b.category_id
LEFT JOIN publishers p ON p.id = b.publisher_id
LEFT JOIN book_ratings r ON r.book_id = b.id
WHERE b.deleted_at IS NULL
"""
