"""The order saga: a state machine, written as a table of (state, trigger) → rule.

It drives the order from placement to an end through the catalog, and survives what the bus does to
messages: retries on silence, late and duplicate replies, a customer cancelling before the catalog answered.
Each rule changes the saga (and the order), raises the commands for the catalog as events, and says in one
word what it did, for the order's timeline.

=================================  =========================  =============================================
state                              trigger                    rule
=================================  =========================  =============================================
awaiting_stock                     StockReserved              confirm the order                → confirmed
awaiting_stock                     StockReservationRejected   reject the order                 → rejected
awaiting_stock                     DeadlineReached            resend ReserveStock (attempts left)
                                                              or give up: ReleaseStock, cancel → abandoned
awaiting_stock                     CustomerCancel             remember it              → cancel_requested…
cancel_requested_awaiting_stock    StockReserved              ReleaseStock, cancel the order   → abandoned
cancel_requested_awaiting_stock    StockReservationRejected   reject the order                 → rejected
cancel_requested_awaiting_stock    DeadlineReached            give up: ReleaseStock, cancel    → abandoned
confirmed                          CustomerCancel             ReleaseStock, order cancelling   → releasing
confirmed                          AdminComplete              complete the order               → completed
releasing                          StockReleased              cancel the order                 → cancelled
abandoned                          StockReserved              ReleaseStock again (a late reservation)
abandoned                          StockReleased              noted: the compensation is done
any                                CustomerCancel             already cancelled/cancelling: nothing to do
                                                              otherwise refused (409)
any                                AdminComplete              refused (409) unless confirmed
any                                any other reply/deadline   recorded and ignored
=================================  =========================  =============================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar
from uuid import UUID

from ordering.domain import triggers as t
from ordering.domain.errors import TransitionNotAllowed
from ordering.domain.events import ReleaseStockRequested, ReserveStockRequested
from ordering.domain.order import Order

T = TypeVar("T")


class SagaState(StrEnum):
    AWAITING_STOCK = "awaiting_stock"
    CANCEL_REQUESTED = "cancel_requested_awaiting_stock"
    CONFIRMED = "confirmed"
    RELEASING = "releasing"
    # The order is cancelled but the catalog may still hold (or later reserve) its stock: any reservation
    # that shows up is given back.
    ABANDONED = "abandoned"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({SagaState.ABANDONED, SagaState.COMPLETED, SagaState.REJECTED, SagaState.CANCELLED})
# Waiting for ReserveStock's answer: the only states with a deadline.
AWAITING = frozenset({SagaState.AWAITING_STOCK, SagaState.CANCEL_REQUESTED})


@dataclass(frozen=True, slots=True)
class SagaPolicy:
    reserve_timeout: timedelta
    max_attempts: int

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.reserve_timeout <= timedelta(0):
            raise ValueError("a saga needs at least one attempt and a positive timeout")


@dataclass(frozen=True, slots=True)
class Step:
    """What one trigger did, for the timeline: ``change`` is a word, ``applied`` False when ignored."""

    change: str
    detail: str = ""
    applied: bool = True


CUSTOMER_CANCELLED = "cancelled at the customer's request"
GAVE_UP = "the catalog did not answer the stock reservation"


@dataclass(eq=False)
class Saga:
    order_id: UUID
    state: SagaState
    attempts: int
    deadline_at: datetime | None
    version: int = 0
    events: list[Any] = field(default_factory=list)

    @classmethod
    def start(cls, order: Order, policy: SagaPolicy, now: datetime) -> Saga:
        saga = cls(order.id, SagaState.AWAITING_STOCK, attempts=0, deadline_at=None)
        saga._ask_for_stock(order, policy, now)
        return saga

    def handle(self, trigger: t.Trigger, order: Order, policy: SagaPolicy, now: datetime) -> Step:
        """Apply the rule the table gives for the current state and ``trigger``."""
        default: Rule = _refuse if isinstance(trigger, t.Request) else _ignore
        rule = RULES.get((self.state, type(trigger)), default)
        return rule(Move(self, order, trigger, policy, now))

    def is_due(self, now: datetime) -> bool:
        return self.deadline_at is not None and self.deadline_at <= now

    def _ask_for_stock(self, order: Order, policy: SagaPolicy, now: datetime) -> None:
        self.attempts += 1
        self.deadline_at = now + policy.reserve_timeout
        self.events.append(ReserveStockRequested(order.id, order.lines, attempt=self.attempts))

    def _release(self, reason: str) -> None:
        self.events.append(ReleaseStockRequested(self.order_id, reason))

    def _become(self, state: SagaState) -> None:
        self.state = state
        if state not in AWAITING:
            self.deadline_at = None


@dataclass(frozen=True, slots=True)
class Move(Generic[T]):
    """One trigger meeting one saga: what a rule works with."""

    saga: Saga
    order: Order
    trigger: T
    policy: SagaPolicy
    now: datetime


Rule = Callable[[Move[Any]], Step]


def _confirm(m: Move[t.StockReserved]) -> Step:
    m.order.confirm(m.trigger.lines, m.now)
    m.saga._become(SagaState.CONFIRMED)
    return Step("confirmed", f"priced at {m.order.total}")


def _reject(m: Move[t.StockReservationRejected]) -> Step:
    reason = "; ".join(m.trigger.reasons) or "the catalog refused the stock"
    m.order.reject(reason, m.now)
    m.saga._become(SagaState.REJECTED)
    return Step("rejected", reason)


def _resend_or_give_up(m: Move[t.DeadlineReached]) -> Step:
    if m.saga.attempts < m.policy.max_attempts:
        m.saga._ask_for_stock(m.order, m.policy, m.now)
        return Step("reserve_stock_resent", f"attempt {m.saga.attempts} of {m.policy.max_attempts}")
    return _give_up(m)


def _give_up(m: Move[t.DeadlineReached]) -> Step:
    # The catalog may have reserved without us hearing of it: release to be sure (release is idempotent).
    reason = CUSTOMER_CANCELLED if m.saga.state is SagaState.CANCEL_REQUESTED else GAVE_UP
    m.saga._release(reason)
    m.order.cancel(reason, m.now)
    m.saga._become(SagaState.ABANDONED)
    return Step("gave_up", f"after {m.saga.attempts} attempt(s): {reason}")


def _remember_cancel(m: Move[t.CustomerCancel]) -> Step:
    m.saga._become(SagaState.CANCEL_REQUESTED)
    return Step("cancel_requested", f"by {m.trigger.by}; applied when the catalog answers")


def _release_and_cancel(m: Move[t.StockReserved]) -> Step:
    m.saga._release(CUSTOMER_CANCELLED)
    m.order.cancel(CUSTOMER_CANCELLED, m.now)
    m.saga._become(SagaState.ABANDONED)
    return Step("cancelled", "stock was reserved after the customer cancelled: released")


def _start_release(m: Move[t.CustomerCancel]) -> Step:
    m.order.start_cancelling(CUSTOMER_CANCELLED, m.now)
    m.saga._release(CUSTOMER_CANCELLED)
    m.saga._become(SagaState.RELEASING)
    return Step("cancelling", f"by {m.trigger.by}; releasing the stock")


def _finish_cancel(m: Move[t.StockReleased]) -> Step:
    m.order.cancel(CUSTOMER_CANCELLED, m.now)
    m.saga._become(SagaState.CANCELLED)
    return Step("cancelled", "stock released" if m.trigger.released else "the catalog held nothing")


def _complete(m: Move[t.AdminComplete]) -> Step:
    m.order.complete(m.now)
    m.saga._become(SagaState.COMPLETED)
    return Step("completed", f"by {m.trigger.by}")


def _release_again(m: Move[t.StockReserved]) -> Step:
    m.saga._release(m.order.reason or GAVE_UP)
    return Step("late_reservation_released", "stock reserved for an order already cancelled: released")


def _note_release(m: Move[t.StockReleased]) -> Step:
    detail = "the catalog gave the stock back" if m.trigger.released else "the catalog held nothing"
    return Step("stock_released", detail, applied=False)


def _already_cancelled(m: Move[t.CustomerCancel]) -> Step:
    detail = f"by {m.trigger.by}; the order is already {m.saga.state.value}"
    return Step("cancel_repeated", detail, applied=False)


def _ignore(m: Move[t.Trigger]) -> Step:
    return Step("ignored", f"{type(m.trigger).__name__} while {m.saga.state.value}", applied=False)


def _refuse(m: Move[t.Request]) -> Step:
    move = "cancel" if isinstance(m.trigger, t.CustomerCancel) else "complete"
    raise TransitionNotAllowed(m.order.id, m.order.status.value, move)


S = SagaState
RULES: dict[tuple[SagaState, type[t.Trigger]], Rule] = {
    (S.AWAITING_STOCK, t.StockReserved): _confirm,
    (S.AWAITING_STOCK, t.StockReservationRejected): _reject,
    (S.AWAITING_STOCK, t.DeadlineReached): _resend_or_give_up,
    (S.AWAITING_STOCK, t.CustomerCancel): _remember_cancel,
    (S.CANCEL_REQUESTED, t.StockReserved): _release_and_cancel,
    (S.CANCEL_REQUESTED, t.StockReservationRejected): _reject,
    (S.CANCEL_REQUESTED, t.DeadlineReached): _give_up,
    (S.CANCEL_REQUESTED, t.CustomerCancel): _already_cancelled,
    (S.CONFIRMED, t.CustomerCancel): _start_release,
    (S.CONFIRMED, t.AdminComplete): _complete,
    (S.RELEASING, t.StockReleased): _finish_cancel,
    (S.RELEASING, t.CustomerCancel): _already_cancelled,
    (S.ABANDONED, t.StockReserved): _release_again,
    (S.ABANDONED, t.StockReleased): _note_release,
    (S.ABANDONED, t.CustomerCancel): _already_cancelled,
    (S.CANCELLED, t.CustomerCancel): _already_cancelled,
}
