from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from catalog.adapters.message_mapping import PRIVATE_EVENTS, to_message
from catalog.domain import events
from catalog.domain.money import Money
from contracts import catalog as messages

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EUR = "EUR"


def test_book_events_become_the_contract_messages_with_money_as_decimal_strings() -> None:
    book_id = uuid4()
    created = to_message(
        events.BookCreated(book_id, "9780306406157", "T", ("A", "B"), "Fantasy", Money.of("9.90", EUR), NOW)
    )
    assert isinstance(created, messages.BookCreated)
    assert created.to_data()["price"] == {"amount": "9.90", "currency": "EUR"}
    assert created.author_names == ["A", "B"]
    updated = to_message(events.BookUpdated(book_id, "9780306406157", "T", (), None, Money.of("1", EUR), NOW))
    assert isinstance(updated, messages.BookUpdated)
    assert updated.category is None
    assert to_message(events.BookDeleted(book_id, NOW)) == messages.BookDeleted(
        book_id=book_id, occurred_at=NOW
    )


def test_stock_answers_become_the_contract_messages_the_saga_reads() -> None:
    order, book = uuid4(), uuid4()
    reserved = to_message(
        events.StockReserved(
            order, (events.ReservedLine(book, 2, Money.of("2.50", EUR)),), Money.of("5.00", EUR)
        )
    )
    assert isinstance(reserved, messages.StockReserved)
    assert reserved.total.amount == Decimal("5.00")
    rejected = to_message(
        events.StockReservationRejected(order, (events.Rejection(book, "out_of_stock", 3, 1),))
    )
    assert isinstance(rejected, messages.StockReservationRejected)
    assert rejected.reasons[0].available == 1
    released = to_message(events.StockReleased(order, True, (events.ReleasedLine(book, 2),)))
    assert released == messages.StockReleased(
        order_id=order, released=True, lines=[messages.OrderLine(book_id=book, quantity=2)]
    )


def test_events_registered_as_private_map_to_nothing() -> None:
    assert to_message(events.BookRestocked(uuid4(), 1, 5, NOW)) is None


def test_an_event_nobody_mapped_is_an_error_not_silence() -> None:
    with pytest.raises(TypeError, match="no message for object"):
        to_message(object())


def test_a_private_event_has_no_mapping_of_its_own() -> None:
    assert not set(PRIVATE_EVENTS) & set(to_message.registry)
