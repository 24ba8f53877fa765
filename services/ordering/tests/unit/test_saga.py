"""The saga table, one transition at a time, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from ordering.domain import events
from ordering.domain import triggers as t
from ordering.domain.errors import TransitionNotAllowed
from ordering.domain.lines import OrderLine, PricedLine
from ordering.domain.money import Money
from ordering.domain.order import Order, OrderStatus
from ordering.domain.saga import RULES, Saga, SagaPolicy, SagaState

NOW = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = SagaPolicy(reserve_timeout=timedelta(seconds=5), max_attempts=3)
S = SagaState


def started() -> tuple[Saga, Order]:
    order = Order.place(
        order_id=uuid4(),
        customer_id="alice",
        customer_email="alice@example.com",
        lines=[OrderLine(uuid4(), 2)],
        at=NOW,
    )
    saga = Saga.start(order, POLICY, NOW)
    order.events.clear()
    saga.events.clear()
    return saga, order


def reserved(order: Order) -> t.StockReserved:
    return t.StockReserved(
        tuple(PricedLine(x.book_id, x.quantity, Money(Decimal(7), "EUR")) for x in order.lines)
    )


REJECTED = t.StockReservationRejected(("out_of_stock",))
RELEASED = t.StockReleased(released=True)
DEADLINE = t.DeadlineReached()
CANCEL = t.CustomerCancel(by="alice")
COMPLETE = t.AdminComplete(by="admin")


def in_state(state: SagaState) -> tuple[Saga, Order]:
    """A saga (and its order) brought to ``state`` through the rules themselves."""
    saga, order = started()
    paths: dict[SagaState, list[t.Trigger]] = {
        S.AWAITING_STOCK: [],
        S.CANCEL_REQUESTED: [CANCEL],
        S.CONFIRMED: [reserved(order)],
        S.RELEASING: [reserved(order), CANCEL],
        S.ABANDONED: [DEADLINE, DEADLINE, DEADLINE],
        S.COMPLETED: [reserved(order), COMPLETE],
        S.REJECTED: [REJECTED],
        S.CANCELLED: [reserved(order), CANCEL, RELEASED],
    }
    for trigger in paths[state]:
        saga.handle(trigger, order, POLICY, NOW)
    assert saga.state is state
    order.events.clear()
    saga.events.clear()
    return saga, order


def kinds(items: list[object]) -> list[type]:
    return [type(x) for x in items]


def test_starting_a_saga_asks_for_stock_and_sets_the_first_deadline() -> None:
    order = Order.place(
        order_id=uuid4(), customer_id="a", customer_email="a@x", lines=[OrderLine(uuid4(), 1)], at=NOW
    )
    saga = Saga.start(order, POLICY, NOW)
    assert (saga.state, saga.attempts, saga.deadline_at) == (S.AWAITING_STOCK, 1, NOW + timedelta(seconds=5))
    assert kinds(saga.events) == [events.ReserveStockRequested]


def test_awaiting_stock_and_stock_reserved_confirms_the_order() -> None:
    saga, order = in_state(S.AWAITING_STOCK)
    step = saga.handle(reserved(order), order, POLICY, NOW)
    assert (saga.state, order.status, step.change) == (S.CONFIRMED, OrderStatus.CONFIRMED, "confirmed")
    assert saga.deadline_at is None
    assert kinds(order.events) == [events.OrderConfirmed]
    assert order.total == Money(Decimal(14), "EUR")


def test_awaiting_stock_and_rejection_rejects_the_order() -> None:
    saga, order = in_state(S.AWAITING_STOCK)
    saga.handle(REJECTED, order, POLICY, NOW)
    assert (saga.state, order.status) == (S.REJECTED, OrderStatus.REJECTED)
    assert kinds(order.events) == [events.OrderRejected]
    assert saga.events == []


def test_a_deadline_with_attempts_left_resends_reserve_stock_with_a_new_deadline() -> None:
    saga, order = in_state(S.AWAITING_STOCK)
    later = NOW + timedelta(seconds=6)
    step = saga.handle(DEADLINE, order, POLICY, later)
    assert step.change == "reserve_stock_resent"
    assert (saga.state, saga.attempts, saga.deadline_at) == (
        S.AWAITING_STOCK,
        2,
        later + timedelta(seconds=5),
    )
    assert kinds(saga.events) == [events.ReserveStockRequested]
    assert order.status is OrderStatus.PENDING


def test_the_deadline_after_the_last_attempt_gives_up_releases_and_cancels() -> None:
    saga, order = in_state(S.AWAITING_STOCK)
    saga.handle(DEADLINE, order, POLICY, NOW)
    saga.handle(DEADLINE, order, POLICY, NOW)
    saga.events.clear()
    step = saga.handle(DEADLINE, order, POLICY, NOW)
    assert step.change == "gave_up"
    assert (saga.state, order.status, saga.deadline_at) == (S.ABANDONED, OrderStatus.CANCELLED, None)
    assert kinds(saga.events) == [events.ReleaseStockRequested]
    assert kinds(order.events) == [events.OrderCancelled]


def test_a_cancel_while_awaiting_stock_is_remembered_and_the_order_stays_pending() -> None:
    saga, order = in_state(S.AWAITING_STOCK)
    step = saga.handle(CANCEL, order, POLICY, NOW)
    assert (saga.state, order.status, step.change) == (
        S.CANCEL_REQUESTED,
        OrderStatus.PENDING,
        "cancel_requested",
    )
    assert saga.deadline_at is not None
    assert (saga.events, order.events) == ([], [])


def test_a_remembered_cancel_meeting_stock_reserved_releases_it_and_cancels() -> None:
    saga, order = in_state(S.CANCEL_REQUESTED)
    saga.handle(reserved(order), order, POLICY, NOW)
    assert (saga.state, order.status) == (S.ABANDONED, OrderStatus.CANCELLED)
    assert kinds(saga.events) == [events.ReleaseStockRequested]
    assert kinds(order.events) == [events.OrderCancelled]


def test_a_remembered_cancel_meeting_a_rejection_rejects() -> None:
    saga, order = in_state(S.CANCEL_REQUESTED)
    saga.handle(REJECTED, order, POLICY, NOW)
    assert (saga.state, order.status) == (S.REJECTED, OrderStatus.REJECTED)
    assert saga.events == []


def test_a_remembered_cancel_meeting_the_deadline_gives_up_at_once() -> None:
    saga, order = in_state(S.CANCEL_REQUESTED)
    step = saga.handle(DEADLINE, order, POLICY, NOW)
    assert step.change == "gave_up"
    assert (saga.state, order.status, saga.attempts) == (S.ABANDONED, OrderStatus.CANCELLED, 1)
    assert kinds(saga.events) == [events.ReleaseStockRequested]


def test_cancelling_a_confirmed_order_releases_stock_and_waits() -> None:
    saga, order = in_state(S.CONFIRMED)
    saga.handle(CANCEL, order, POLICY, NOW)
    assert (saga.state, order.status) == (S.RELEASING, OrderStatus.CANCELLING)
    assert kinds(saga.events) == [events.ReleaseStockRequested]


def test_stock_released_while_releasing_cancels_the_order() -> None:
    saga, order = in_state(S.RELEASING)
    saga.handle(RELEASED, order, POLICY, NOW)
    assert (saga.state, order.status) == (S.CANCELLED, OrderStatus.CANCELLED)
    assert kinds(order.events) == [events.OrderCancelled]


def test_completing_a_confirmed_order_completes_it() -> None:
    saga, order = in_state(S.CONFIRMED)
    saga.handle(COMPLETE, order, POLICY, NOW)
    assert (saga.state, order.status) == (S.COMPLETED, OrderStatus.COMPLETED)
    assert kinds(order.events) == [events.OrderCompleted]


def test_a_late_stock_reserved_after_giving_up_is_released_again() -> None:
    saga, order = in_state(S.ABANDONED)
    step = saga.handle(reserved(order), order, POLICY, NOW)
    assert step.change == "late_reservation_released"
    assert kinds(saga.events) == [events.ReleaseStockRequested]
    assert (saga.state, order.status) == (S.ABANDONED, OrderStatus.CANCELLED)
    assert order.events == []


@pytest.mark.parametrize("state", [S.CONFIRMED, S.RELEASING, S.COMPLETED, S.REJECTED, S.CANCELLED])
def test_a_duplicate_or_late_stock_reserved_is_recorded_and_ignored(state: SagaState) -> None:
    saga, order = in_state(state)
    step = saga.handle(reserved(order), order, POLICY, NOW)
    assert (step.change, step.applied, saga.state) == ("ignored", False, state)
    assert (saga.events, order.events) == ([], [])


@pytest.mark.parametrize("state", [s for s in S if s not in (S.AWAITING_STOCK, S.CANCEL_REQUESTED)])
def test_a_rejection_that_does_not_apply_is_recorded_and_ignored(state: SagaState) -> None:
    saga, order = in_state(state)
    before = (saga.state, order.status)
    step = saga.handle(REJECTED, order, POLICY, NOW)
    assert not step.applied
    assert (saga.state, order.status) == before
    assert (saga.events, order.events) == ([], [])


@pytest.mark.parametrize("state", [s for s in S if s is not S.RELEASING])
def test_a_stock_released_that_does_not_apply_is_recorded_and_ignored(state: SagaState) -> None:
    saga, order = in_state(state)
    step = saga.handle(RELEASED, order, POLICY, NOW)
    assert (step.applied, saga.state) == (False, state)
    assert (saga.events, order.events) == ([], [])


@pytest.mark.parametrize("state", [s for s in S if s not in (S.AWAITING_STOCK, S.CANCEL_REQUESTED)])
def test_a_stale_deadline_outside_awaiting_stock_is_ignored(state: SagaState) -> None:
    saga, order = in_state(state)
    step = saga.handle(DEADLINE, order, POLICY, NOW)
    assert (step.applied, saga.state) == (False, state)
    assert saga.events == []


@pytest.mark.parametrize("state", [S.CANCEL_REQUESTED, S.RELEASING, S.ABANDONED, S.CANCELLED])
def test_cancelling_again_an_order_on_its_way_out_changes_nothing(state: SagaState) -> None:
    saga, order = in_state(state)
    step = saga.handle(CANCEL, order, POLICY, NOW)
    assert (step.change, step.applied, saga.state) == ("cancel_repeated", False, state)
    assert (saga.events, order.events) == ([], [])


@pytest.mark.parametrize("state", [S.COMPLETED, S.REJECTED])
def test_cancelling_a_completed_or_rejected_order_is_refused(state: SagaState) -> None:
    saga, order = in_state(state)
    with pytest.raises(TransitionNotAllowed):
        saga.handle(CANCEL, order, POLICY, NOW)
    assert saga.state is state


@pytest.mark.parametrize("state", [s for s in S if s is not S.CONFIRMED])
def test_completing_anything_but_a_confirmed_order_is_refused(state: SagaState) -> None:
    saga, order = in_state(state)
    with pytest.raises(TransitionNotAllowed):
        saga.handle(COMPLETE, order, POLICY, NOW)
    assert saga.state is state


def test_every_rule_in_the_table_starts_from_a_state_that_can_be_reached() -> None:
    for state, _trigger in RULES:
        in_state(state)


def test_a_saga_is_due_once_its_deadline_has_passed() -> None:
    saga, _ = in_state(S.AWAITING_STOCK)
    assert not saga.is_due(NOW)
    assert saga.is_due(NOW + timedelta(seconds=5))


def test_a_policy_needs_an_attempt_and_a_positive_timeout() -> None:
    with pytest.raises(ValueError, match="attempt"):
        SagaPolicy(reserve_timeout=timedelta(0), max_attempts=1)
