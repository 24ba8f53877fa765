"""One valid instance of every message, for tests and generated documentation (EventCatalog examples)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

from contracts.base import Message
from contracts.catalog import (
    BookCreated,
    BookDeleted,
    BookUpdated,
    RejectionReason,
    ReleaseStock,
    ReserveStock,
    StockReleased,
    StockReservationRejected,
    StockReserved,
)
from contracts.lines import OrderLine, PricedLine
from contracts.money import Money
from contracts.notification import NotificationFailed, NotificationSent
from contracts.ordering import OrderCancelled, OrderCompleted, OrderConfirmed, OrderPlaced
from contracts.rating import FeedbackDeleted, FeedbackSubmitted

BOOK = UUID("01890a5d-ac96-774b-bcce-b302099a8057")
OTHER_BOOK = UUID("01890a5d-ac96-774b-bcce-b302099a8058")
ORDER = UUID("01890a5d-ac96-774b-bcce-b302099a8059")
FEEDBACK = UUID("01890a5d-ac96-774b-bcce-b302099a805a")
NOTIFICATION = UUID("01890a5d-ac96-774b-bcce-b302099a805b")
SOURCE_MESSAGE = UUID("01890a5d-ac96-774b-bcce-b302099a805c")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PRICE = Money.of("12.50", "EUR")


def priced_lines() -> list[PricedLine]:
    return [
        PricedLine(book_id=BOOK, quantity=2, unit_price=PRICE),
        PricedLine(book_id=OTHER_BOOK, quantity=1, unit_price=Money.of("5", "EUR")),
    ]


def order_lines() -> list[OrderLine]:
    return [OrderLine(book_id=BOOK, quantity=2), OrderLine(book_id=OTHER_BOOK, quantity=1)]


M = TypeVar("M", bound=Message)


def example(model: type[M]) -> M:
    """A valid instance of ``model``."""
    for message in every_message():
        if isinstance(message, model) and type(message) is model:
            return message
    raise LookupError(f"no example for {model.__name__}")


def every_message() -> list[Message]:
    book = {
        "book_id": BOOK,
        "isbn": "9780306406157",
        "title": "Dune",
        "author_names": ["Frank Herbert"],
        "category": "sf",
        "price": PRICE,
        "occurred_at": NOW,
    }
    customer = {"order_id": ORDER, "customer_id": "user-1", "customer_email": "ada@example.com"}
    notification = {
        "notification_id": NOTIFICATION,
        "source_message_id": SOURCE_MESSAGE,
        "source_type": "folio.ordering.order-confirmed.v1",
        "order_id": ORDER,
        "customer_id": "user-1",
        "recipient": "ada@example.com",
        "template": "order-confirmed",
    }
    feedback = {"feedback_id": FEEDBACK, "book_id": BOOK, "customer_id": "user-1", "version": 1}
    total = Money.of("30.00", "EUR")
    return [
        BookCreated(**book),
        BookUpdated(**book),
        BookDeleted(book_id=BOOK, occurred_at=NOW),
        StockReserved(order_id=ORDER, lines=priced_lines(), total=total),
        StockReservationRejected(
            order_id=ORDER,
            reasons=[RejectionReason(book_id=BOOK, reason="out_of_stock", requested=2, available=1)],
        ),
        StockReleased(order_id=ORDER, released=True, lines=order_lines()),
        ReserveStock(order_id=ORDER, lines=order_lines()),
        ReleaseStock(order_id=ORDER, reason="customer cancelled"),
        OrderPlaced(**customer, lines=order_lines(), placed_at=NOW),
        OrderConfirmed(**customer, lines=priced_lines(), total=total, confirmed_at=NOW),
        OrderCancelled(**customer, reason="out of stock", rejected=True, cancelled_at=NOW),
        OrderCompleted(**customer, book_ids=[BOOK, OTHER_BOOK], total=total, completed_at=NOW),
        FeedbackSubmitted(**feedback, stars=5, comment="great", verified_purchase=True, submitted_at=NOW),
        FeedbackDeleted(**feedback, deleted_at=NOW),
        NotificationSent(**notification, sent_at=NOW),
        NotificationFailed(**notification, reason="smtp refused", attempts=3, failed_at=NOW),
    ]
