"""Domain events and saga commands become the contracts' messages, and the catalog's replies triggers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from contracts import catalog as wire
from contracts import ordering as wire_ordering
from contracts.lines import OrderLine as WireLine
from contracts.lines import PricedLine as WirePricedLine
from contracts.money import Money as WireMoney
from ordering.adapters.message_mapping import (
    PRIVATE_EVENTS,
    stock_rejected,
    stock_released,
    stock_reserved,
    to_message,
)
from ordering.domain import events, stock_commands, triggers
from ordering.domain.lines import OrderLine, PricedLine
from ordering.domain.money import Money

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ORDER, BOOK = uuid4(), uuid4()
WHO: dict[str, Any] = {
    "order_id": ORDER,
    "customer_id": "alice",
    "customer_email": "alice@example.com",
    "at": NOW,
}
PRICE = Money(Decimal("12.50"), "EUR")


def test_order_placed_carries_the_customer_and_the_lines() -> None:
    message = to_message(events.OrderPlaced(**WHO, lines=(OrderLine(BOOK, 2),)))
    assert message == wire_ordering.OrderPlaced(
        order_id=ORDER,
        customer_id="alice",
        customer_email="alice@example.com",
        lines=[WireLine(book_id=BOOK, quantity=2)],
        placed_at=NOW,
    )
    assert message.subject_value() == str(ORDER)


def test_order_confirmed_carries_prices_and_a_total_as_decimal_strings() -> None:
    message = to_message(
        events.OrderConfirmed(
            **WHO, lines=(PricedLine(BOOK, 2, PRICE),), total=Money(Decimal("25.00"), "EUR")
        )
    )
    assert isinstance(message, wire_ordering.OrderConfirmed)
    assert message.to_data()["total"] == {"amount": "25.00", "currency": "EUR"}


@pytest.mark.parametrize(
    ("event", "rejected"),
    [
        (events.OrderRejected(**WHO, reason="out of stock"), True),
        (events.OrderCancelled(**WHO, reason="asked"), False),
    ],
)
def test_a_rejection_and_a_cancellation_both_become_order_cancelled_told_apart_by_rejected(
    event: events.OrderEvent, rejected: bool
) -> None:
    message = to_message(event)
    assert isinstance(message, wire_ordering.OrderCancelled)
    assert message.rejected is rejected


def test_the_start_of_a_cancellation_stays_inside_ordering() -> None:
    assert to_message(events.OrderCancellationStarted(**WHO, reason="asked")) is None


def test_order_completed_names_the_books_bought() -> None:
    message = to_message(events.OrderCompleted(**WHO, book_ids=(BOOK,), total=PRICE))
    assert isinstance(message, wire_ordering.OrderCompleted)
    assert message.book_ids == [BOOK]


def test_the_sagas_commands_become_catalog_commands() -> None:
    reserve = to_message(
        stock_commands.ReserveStock(ORDER, (OrderLine(BOOK, 1),), attempt=2, message_id=uuid4())
    )
    release = to_message(stock_commands.ReleaseStock(ORDER, "gave up", message_id=uuid4()))
    assert reserve == wire.ReserveStock(order_id=ORDER, lines=[WireLine(book_id=BOOK, quantity=1)])
    assert release == wire.ReleaseStock(order_id=ORDER, reason="gave up")
    assert (reserve.exchange(), release.exchange()) == ("catalog.commands", "catalog.commands")


def test_the_catalogs_replies_become_saga_triggers() -> None:
    price = WireMoney.of("12.50", "EUR")
    reserved = wire.StockReserved(
        order_id=ORDER,
        lines=[WirePricedLine(book_id=BOOK, quantity=2, unit_price=price)],
        total=WireMoney.of("25.00", "EUR"),
    )
    rejected = wire.StockReservationRejected(
        order_id=ORDER,
        reasons=[wire.RejectionReason(book_id=BOOK, reason="out_of_stock", requested=2, available=1)],
    )
    assert stock_reserved(reserved) == triggers.StockReserved((PricedLine(BOOK, 2, PRICE),))
    [reason] = stock_rejected(rejected).reasons
    assert "out_of_stock" in reason
    assert "requested 2, available 1" in reason
    released = wire.StockReleased(order_id=ORDER, released=False, lines=[])
    assert stock_released(released) == triggers.StockReleased(released=False)


def test_an_event_nobody_mapped_is_an_error_not_silence() -> None:
    with pytest.raises(TypeError, match="no message for object"):
        to_message(object())


def test_a_private_event_has_no_mapping_of_its_own() -> None:
    assert not set(PRIVATE_EVENTS) & set(to_message.registry)
