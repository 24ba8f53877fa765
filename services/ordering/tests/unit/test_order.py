from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from ordering.domain import events
from ordering.domain.errors import InvalidOrder, NotPermitted, PricingMismatch, TransitionNotAllowed
from ordering.domain.lines import OrderLine, PricedLine
from ordering.domain.money import CurrencyMismatch, Money
from ordering.domain.order import Order, OrderStatus

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BOOK_A, BOOK_B = uuid4(), uuid4()


def place(*lines: OrderLine) -> Order:
    chosen = lines or (OrderLine(BOOK_A, 2), OrderLine(BOOK_B, 1))
    order = Order.place(
        order_id=uuid4(), customer_id="alice", customer_email="alice@example.com", lines=chosen, at=NOW
    )
    order.events.clear()
    return order


def priced(order: Order, price: str = "10.00", currency: str = "EUR") -> tuple[PricedLine, ...]:
    return tuple(PricedLine(x.book_id, x.quantity, Money(Decimal(price), currency)) for x in order.lines)


def test_placing_an_order_makes_it_pending_and_raises_order_placed() -> None:
    order = Order.place(
        order_id=uuid4(), customer_id="alice", customer_email="a@x", lines=[OrderLine(BOOK_A, 1)], at=NOW
    )
    assert order.status is OrderStatus.PENDING
    assert [type(e) for e in order.events] == [events.OrderPlaced]


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([], "lines"),
        ([OrderLine(BOOK_A, 0)], "lines.0.quantity"),
        ([OrderLine(BOOK_A, -3)], "lines.0.quantity"),
        ([OrderLine(BOOK_A, 1), OrderLine(BOOK_A, 2)], "lines.1.book_id"),
        ([OrderLine(BOOK_A, 1_000_000)], "lines.0.quantity"),
    ],
)
def test_an_order_with_bad_lines_is_refused_naming_the_field(lines: list[OrderLine], field: str) -> None:
    with pytest.raises(InvalidOrder) as refused:
        Order.place(order_id=uuid4(), customer_id="alice", customer_email="a@x", lines=lines, at=NOW)
    assert field in refused.value.errors


def test_confirming_prices_the_order_with_the_sum_of_its_lines() -> None:
    order = place()
    order.confirm(priced(order), NOW)
    assert order.status is OrderStatus.CONFIRMED
    assert order.total == Money(Decimal("30.00"), "EUR")
    assert [type(e) for e in order.events] == [events.OrderConfirmed]


def test_confirming_with_other_lines_than_ordered_is_a_pricing_mismatch() -> None:
    order = place()
    wrong = (PricedLine(BOOK_A, 5, Money(Decimal(1), "EUR")), PricedLine(BOOK_B, 1, Money(Decimal(1), "EUR")))
    with pytest.raises(PricingMismatch):
        order.confirm(wrong, NOW)


def test_a_refused_confirmation_leaves_the_order_pending() -> None:
    order = place()
    with pytest.raises(PricingMismatch):
        order.confirm(priced(order)[:1], NOW)
    assert (order.status, order.total, order.events) == (OrderStatus.PENDING, None, [])


def test_confirming_in_two_currencies_is_a_pricing_mismatch() -> None:
    order = place()
    mixed = (PricedLine(BOOK_A, 2, Money(Decimal(1), "EUR")), PricedLine(BOOK_B, 1, Money(Decimal(1), "USD")))
    with pytest.raises(PricingMismatch):
        order.confirm(mixed, NOW)


def test_a_confirmed_order_completes_with_its_books_and_total() -> None:
    order = place()
    order.confirm(priced(order), NOW)
    order.complete(NOW)
    completed = order.events[-1]
    assert isinstance(completed, events.OrderCompleted)
    assert completed.book_ids == (BOOK_A, BOOK_B)
    assert order.status is OrderStatus.COMPLETED


def test_a_pending_order_cannot_be_completed() -> None:
    with pytest.raises(TransitionNotAllowed):
        place().complete(NOW)


def test_a_completed_order_cannot_be_cancelled() -> None:
    order = place()
    order.confirm(priced(order), NOW)
    order.complete(NOW)
    with pytest.raises(TransitionNotAllowed):
        order.start_cancelling("changed my mind", NOW)


def test_a_confirmed_order_is_cancelled_through_cancelling() -> None:
    order = place()
    order.confirm(priced(order), NOW)
    order.start_cancelling("changed my mind", NOW)
    order.cancel("ignored", NOW)
    assert order.status is OrderStatus.CANCELLED
    assert order.reason == "changed my mind"
    assert [type(e) for e in order.events][-2:] == [events.OrderCancellationStarted, events.OrderCancelled]


def test_a_rejected_order_stays_rejected() -> None:
    order = place()
    order.reject("out of stock", NOW)
    with pytest.raises(TransitionNotAllowed):
        order.cancel("x", NOW)
    with pytest.raises(TransitionNotAllowed):
        order.confirm(priced(order), NOW)


def test_only_the_owner_or_an_admin_sees_and_cancels_an_order_and_only_an_admin_completes() -> None:
    order = place()
    assert order.is_visible_to("alice", is_admin=False)
    assert not order.is_visible_to("bob", is_admin=False)
    assert order.is_visible_to("bob", is_admin=True)
    with pytest.raises(NotPermitted):
        order.check_may_cancel("bob", is_admin=False)
    order.check_may_cancel("alice", is_admin=False)
    with pytest.raises(NotPermitted):
        order.check_may_complete("alice", is_admin=False)
    order.check_may_complete("root", is_admin=True)


def test_money_refuses_negative_amounts_bad_currencies_and_mixing() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        Money(Decimal(-1), "EUR")
    with pytest.raises(ValueError, match="ISO"):
        Money(Decimal(1), "eur")
    with pytest.raises(CurrencyMismatch):
        _ = Money(Decimal(1), "EUR") + Money(Decimal(1), "USD")
    assert str(Money(Decimal("2.50"), "EUR").times(3)) == "7.50 EUR"
