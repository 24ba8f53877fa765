"""The saga table, one transition at a time, without I/O."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from ordering.domain import events, stock_commands
from ordering.domain import triggers as t
from ordering.domain.errors import TransitionNotAllowed
from ordering.domain.lines import OrderLine, PricedLine
from ordering.domain.money import Money
from ordering.domain.order import Order, OrderStatus
from ordering.domain.saga import (
    RULES,
    TOLERATED_PUBLICATION_LAG,
    WAITING,
    Saga,
    SagaPolicy,
    SagaState,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
FIRST, LONGEST, HORIZON = timedelta(seconds=5), timedelta(seconds=20), timedelta(seconds=60)
POLICY = SagaPolicy(first_deadline=FIRST, max_deadline=LONGEST, give_up_after=HORIZON, jitter=0)
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
    saga.commands.clear()
    return saga, order


def reserved(order: Order) -> t.StockReserved:
    return t.StockReserved(
        tuple(PricedLine(x.book_id, x.quantity, Money(Decimal(7), "EUR")) for x in order.lines)
    )


REJECTED = t.StockReservationRejected(("out_of_stock",))
RELEASED = t.StockReleased(released=True)
# The deadline of a request published when it was sent (``NOW``), or long ago, or not yet.
DEADLINE = t.DeadlineReached(published_at=NOW)
LONG_AGO = t.DeadlineReached(published_at=NOW - timedelta(hours=1))
UNPUBLISHED = t.DeadlineReached(published_at=None)
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
        S.ABANDONED: [LONG_AGO],
        S.COMPLETED: [reserved(order), COMPLETE],
        S.REJECTED: [REJECTED],
        S.CANCELLED: [reserved(order), CANCEL, RELEASED],
    }
    for trigger in paths[state]:
        saga.handle(trigger, order, POLICY, NOW)
    assert saga.state is state
    order.events.clear()
    saga.commands.clear()
    return saga, order


def kinds(items: list[object]) -> list[type]:
    return [type(x) for x in items]


def test_starting_a_saga_asks_for_stock_and_sets_the_first_deadline() -> None:
    order = Order.place(
        order_id=uuid4(), customer_id="a", customer_email="a@x", lines=[OrderLine(uuid4(), 1)], at=NOW
    )
    saga = Saga.start(order, POLICY, NOW)
    assert (saga.state, saga.attempts, saga.deadline_at) == (S.AWAITING_STOCK, 1, NOW + FIRST)
    assert (saga.waiting_since, saga.sent_at) == (NOW, None)
    (request,) = saga.commands
    assert isinstance(request, stock_commands.ReserveStock)
    assert request.message_id == saga.request_id


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
    assert saga.commands == []


def test_a_deadline_after_the_requests_interval_resends_reserve_stock_on_a_doubled_interval() -> None:
    saga, order = in_state(S.AWAITING_STOCK)
    first_request = saga.request_id
    later = NOW + FIRST
    step = saga.handle(DEADLINE, order, POLICY, later)
    assert step.change == "reserve_stock_resent"
    assert (saga.state, saga.attempts, saga.deadline_at) == (S.AWAITING_STOCK, 2, later + 2 * FIRST)
    assert saga.sent_at == NOW, "the horizon counts from the first request's publication"
    (resent,) = saga.commands
    assert isinstance(resent, stock_commands.ReserveStock)
    assert resent.message_id == saga.request_id != first_request
    assert order.status is OrderStatus.PENDING


def test_a_request_still_in_the_outbox_moves_the_deadline_without_resending() -> None:
    saga, order = in_state(S.AWAITING_STOCK)
    request = saga.request_id
    # Far past any horizon: nothing the catalog has not even seen can make the saga give up.
    later = NOW + 10 * HORIZON
    step = saga.handle(UNPUBLISHED, order, POLICY, later)
    assert (step.change, step.applied) == ("deadline_moved", True)
    assert (saga.state, saga.attempts, saga.request_id, saga.sent_at) == (S.AWAITING_STOCK, 1, request, None)
    assert saga.deadline_at == later + FIRST
    assert saga.commands == []


def test_a_request_published_late_gets_its_whole_interval_from_its_publication() -> None:
    saga, order = in_state(S.AWAITING_STOCK)
    published = NOW + FIRST * (TOLERATED_PUBLICATION_LAG + 0.1)
    step = saga.handle(t.DeadlineReached(published), order, POLICY, NOW + FIRST)
    assert step.change == "deadline_moved"
    assert (saga.attempts, saga.deadline_at, saga.sent_at) == (1, published + FIRST, published)
    assert saga.commands == []


def test_a_request_published_soon_after_it_was_written_keeps_its_deadline() -> None:
    saga, order = in_state(S.AWAITING_STOCK)
    published = NOW + FIRST * (TOLERATED_PUBLICATION_LAG - 0.1)
    assert (
        saga.handle(t.DeadlineReached(published), order, POLICY, NOW + FIRST).change == "reserve_stock_resent"
    )


def run_deadlines(saga: Saga, order: Order, until: datetime) -> list[str]:
    """Meet every deadline up to ``until``, each request published the moment it was sent."""
    changes: list[str] = []
    sent = NOW
    while saga.deadline_at is not None and saga.deadline_at <= until:
        at = saga.deadline_at
        request = saga.request_id
        changes.append(saga.handle(t.DeadlineReached(sent), order, POLICY, at).change)
        if saga.request_id != request:
            sent = at
    return changes


def test_resends_follow_a_doubling_ladder_capped_at_the_longest_interval() -> None:
    saga, order = in_state(S.AWAITING_STOCK)
    deadlines = []
    for _ in range(5):
        deadlines.append(saga.deadline_at)
        run_deadlines(saga, order, until=saga.deadline_at)  # type: ignore[arg-type]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(deadlines)]
    assert gaps == [10, 20, 20, 20]


def test_a_catalog_silent_for_less_than_the_horizon_never_abandons_an_order_that_had_stock() -> None:
    saga, order = in_state(S.AWAITING_STOCK)
    changes = run_deadlines(saga, order, until=NOW + HORIZON - timedelta(seconds=1))
    assert len(changes) > 1
    assert set(changes) == {"reserve_stock_resent"}
    assert saga.state is S.AWAITING_STOCK
    saga.handle(reserved(order), order, POLICY, NOW + HORIZON - timedelta(seconds=1))
    assert (saga.state, order.status) == (S.CONFIRMED, OrderStatus.CONFIRMED)


def test_the_saga_gives_up_once_the_horizon_since_the_first_publication_has_passed() -> None:
    saga, order = in_state(S.AWAITING_STOCK)
    before_horizon = run_deadlines(saga, order, until=NOW + HORIZON - timedelta(seconds=1))
    after = run_deadlines(saga, order, until=NOW + 10 * HORIZON)
    assert set(before_horizon) == {"reserve_stock_resent"}
    assert after == ["gave_up"]
    assert (saga.state, order.status, saga.deadline_at) == (S.ABANDONED, OrderStatus.CANCELLED, None)
    assert kinds(saga.commands[-1:]) == [stock_commands.ReleaseStock]
    assert kinds(order.events) == [events.OrderCancelled]


def test_jitter_spreads_deadlines_over_up_to_that_fraction_of_the_interval() -> None:
    order = Order.place(
        order_id=uuid4(), customer_id="a", customer_email="a@x", lines=[OrderLine(uuid4(), 1)], at=NOW
    )
    spreads = {
        value: Saga.start(order, replace(POLICY, jitter=0.2, random=lambda v=value: v), NOW).deadline_at
        for value in (0.0, 0.5, 1.0)
    }
    assert spreads == {0.0: NOW + FIRST, 0.5: NOW + FIRST * 1.1, 1.0: NOW + FIRST * 1.2}


def test_a_cancel_while_awaiting_stock_is_remembered_and_the_order_stays_pending() -> None:
    saga, order = in_state(S.AWAITING_STOCK)
    step = saga.handle(CANCEL, order, POLICY, NOW)
    assert (saga.state, order.status, step.change) == (
        S.CANCEL_REQUESTED,
        OrderStatus.PENDING,
        "cancel_requested",
    )
    assert saga.deadline_at is not None
    assert (saga.commands, order.events) == ([], [])


def test_a_remembered_cancel_meeting_stock_reserved_releases_it_and_cancels_once_released() -> None:
    saga, order = in_state(S.CANCEL_REQUESTED)
    saga.handle(reserved(order), order, POLICY, NOW)
    # Never abandoned: the release is chased like any customer's cancel.
    assert (saga.state, order.status) == (S.RELEASING, OrderStatus.CANCELLING)
    (release,) = saga.commands
    assert isinstance(release, stock_commands.ReleaseStock)
    assert (saga.request_id, saga.attempts, saga.deadline_at) == (release.message_id, 1, NOW + FIRST)
    saga.handle(RELEASED, order, POLICY, NOW + FIRST / 2)
    assert (saga.state, order.status) == (S.CANCELLED, OrderStatus.CANCELLED)
    assert kinds(order.events) == [events.OrderCancellationStarted, events.OrderCancelled]


def test_a_remembered_cancel_meeting_a_rejection_rejects() -> None:
    saga, order = in_state(S.CANCEL_REQUESTED)
    saga.handle(REJECTED, order, POLICY, NOW)
    assert (saga.state, order.status) == (S.REJECTED, OrderStatus.REJECTED)
    assert saga.commands == []


def test_a_remembered_cancel_releases_without_resending_once_the_request_had_its_interval() -> None:
    saga, order = in_state(S.CANCEL_REQUESTED)
    waiting = saga.handle(UNPUBLISHED, order, POLICY, NOW + FIRST)
    assert (waiting.change, saga.state, saga.commands) == ("deadline_moved", S.CANCEL_REQUESTED, [])
    step = saga.handle(DEADLINE, order, POLICY, NOW + 2 * FIRST)
    # A catalog slower than one interval is not a reason to abandon the order: release, and chase it.
    assert step.change == "cancelling"
    assert (saga.state, order.status, saga.attempts) == (S.RELEASING, OrderStatus.CANCELLING, 1)
    assert kinds(saga.commands) == [stock_commands.ReleaseStock]
    assert saga.deadline_at == NOW + 3 * FIRST


def test_cancelling_a_confirmed_order_releases_stock_and_waits_with_a_deadline() -> None:
    saga, order = in_state(S.CONFIRMED)
    saga.handle(CANCEL, order, POLICY, NOW)
    assert (saga.state, order.status) == (S.RELEASING, OrderStatus.CANCELLING)
    (release,) = saga.commands
    assert isinstance(release, stock_commands.ReleaseStock)
    assert (saga.request_id, saga.attempts, saga.deadline_at) == (release.message_id, 1, NOW + FIRST)


def test_releasing_resends_release_stock_on_the_ladder_and_never_gives_up() -> None:
    saga, order = in_state(S.RELEASING)
    assert saga.handle(UNPUBLISHED, order, POLICY, NOW + FIRST).change == "deadline_moved"
    assert saga.commands == []
    changes = run_deadlines(saga, order, until=NOW + 100 * HORIZON)
    assert set(changes) == {"release_stock_resent"}
    assert len(changes) > 100 * HORIZON / LONGEST - 5
    assert saga.state is S.RELEASING
    assert saga.deadline_at is not None
    assert {type(e) for e in saga.commands} == {stock_commands.ReleaseStock}
    assert len({e.message_id for e in saga.commands}) == len(saga.commands), "each resend is a new message"
    saga.handle(RELEASED, order, POLICY, NOW + 100 * HORIZON)
    assert (saga.state, order.status, saga.deadline_at) == (S.CANCELLED, OrderStatus.CANCELLED, None)


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
    assert kinds(saga.commands) == [stock_commands.ReleaseStock]
    assert (saga.state, order.status) == (S.ABANDONED, OrderStatus.CANCELLED)
    assert order.events == []


@pytest.mark.parametrize("state", [S.CONFIRMED, S.RELEASING, S.COMPLETED, S.REJECTED, S.CANCELLED])
def test_a_duplicate_or_late_stock_reserved_is_recorded_and_ignored(state: SagaState) -> None:
    saga, order = in_state(state)
    step = saga.handle(reserved(order), order, POLICY, NOW)
    assert (step.change, step.applied, saga.state) == ("ignored", False, state)
    assert (saga.commands, order.events) == ([], [])


@pytest.mark.parametrize("state", [s for s in S if s not in (S.AWAITING_STOCK, S.CANCEL_REQUESTED)])
def test_a_rejection_that_does_not_apply_is_recorded_and_ignored(state: SagaState) -> None:
    saga, order = in_state(state)
    before = (saga.state, order.status)
    step = saga.handle(REJECTED, order, POLICY, NOW)
    assert not step.applied
    assert (saga.state, order.status) == before
    assert (saga.commands, order.events) == ([], [])


@pytest.mark.parametrize("state", [s for s in S if s is not S.RELEASING])
def test_a_stock_released_that_does_not_apply_is_recorded_and_ignored(state: SagaState) -> None:
    saga, order = in_state(state)
    step = saga.handle(RELEASED, order, POLICY, NOW)
    assert (step.applied, saga.state) == (False, state)
    assert (saga.commands, order.events) == ([], [])


@pytest.mark.parametrize("state", [s for s in S if s not in WAITING])
def test_a_stale_deadline_outside_a_wait_is_ignored(state: SagaState) -> None:
    saga, order = in_state(state)
    step = saga.handle(DEADLINE, order, POLICY, NOW)
    assert (step.applied, saga.state) == (False, state)
    assert saga.commands == []


@pytest.mark.parametrize("state", [S.CANCEL_REQUESTED, S.RELEASING, S.ABANDONED, S.CANCELLED])
def test_cancelling_again_an_order_on_its_way_out_changes_nothing(state: SagaState) -> None:
    saga, order = in_state(state)
    step = saga.handle(CANCEL, order, POLICY, NOW)
    assert (step.change, step.applied, saga.state) == ("cancel_repeated", False, state)
    assert (saga.commands, order.events) == ([], [])


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
    assert saga.is_due(NOW + FIRST)


@pytest.mark.parametrize(
    "changes",
    [
        {"first_deadline": timedelta(0)},
        {"max_deadline": FIRST / 2},
        {"give_up_after": timedelta(0)},
        {"jitter": 1.5},
    ],
    ids=["no first deadline", "longest shorter than first", "no horizon", "jitter over 1"],
)
def test_a_policy_refuses_deadlines_that_make_no_sense(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        replace(POLICY, **changes)
