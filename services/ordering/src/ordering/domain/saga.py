"""The order saga: a state machine, written as a table of (state, trigger) → rule.

It drives the order from placement to an end through the catalog, and survives what the bus does to
messages: retries on silence, late and duplicate replies, a customer cancelling before the catalog answered.
Each rule changes the saga (and the order), queues the commands for the catalog (``take_commands``: the
handler sends them), and says in one word what it did, for the order's timeline.

=================================  =========================  =============================================
state                              trigger                    rule
=================================  =========================  =============================================
awaiting_stock                     StockReserved              confirm the order                → confirmed
awaiting_stock                     StockReservationRejected   reject the order                 → rejected
awaiting_stock                     DeadlineReached            request not sent yet, or sent less than its
                                                              interval ago: wait; horizon passed: give up,
                                                              ReleaseStock, cancel             → abandoned;
                                                              otherwise resend ReserveStock
awaiting_stock                     CustomerCancel             remember it              → cancel_requested…
cancel_requested_awaiting_stock    StockReserved              ReleaseStock, order cancelling   → releasing
cancel_requested_awaiting_stock    StockReservationRejected   reject the order                 → rejected
cancel_requested_awaiting_stock    DeadlineReached            request sent and its interval over: stop
                                                              asking, ReleaseStock, order
                                                              cancelling                       → releasing;
                                                              otherwise wait
confirmed                          CustomerCancel             ReleaseStock, order cancelling   → releasing
confirmed                          AdminComplete              complete the order               → completed
releasing                          StockReleased              cancel the order                 → cancelled
releasing                          DeadlineReached            resend ReleaseStock once sent and its
                                                              interval over (never gives up)
abandoned                          StockReserved              ReleaseStock again (a late reservation)
abandoned                          StockReleased              noted: the compensation is done
any                                CustomerCancel             already cancelled/cancelling: nothing to do
                                                              otherwise refused (409)
any                                AdminComplete              refused (409) unless confirmed
any                                any other reply/deadline   recorded and ignored
=================================  =========================  =============================================

Deadlines. Every state that waits on the catalog (``WAITING``) has a durable deadline. The saga remembers
the message id of the request it waits on; the deadline scanner tells it, with ``DeadlineReached``, when that
request left the outbox (None while it is still there). Intervals are counted from that publication, not
from when the request was written: a relay backlog (a broker outage) never makes a saga resend, or give up,
on a request the catalog has not even seen. Intervals double from ``first_deadline`` up to
``max_deadline``, each spread by up to ``jitter`` so that sagas placed together do not resend together.
``give_up_after`` (the horizon) is counted from the first publication of the wait's first request; it ends
only the wait for ReserveStock. ReleaseStock is resent on the capped ladder until StockReleased arrives: a
customer's cancel never ends with the stock still held. A cancel remembered while awaiting stock is such a
cancel too: once the catalog reserved, or its request had its interval, the saga releases and waits for
StockReleased (the catalog keeps a release that came first, so a late ReserveStock holds nothing). Only
the horizon abandons an order: ``abandoned`` means the catalog did not answer for that long.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar
from uuid import UUID

from ordering.domain import triggers as t
from ordering.domain.errors import TransitionNotAllowed
from ordering.domain.order import Order
from ordering.domain.stock_commands import ReleaseStock, ReserveStock, StockCommand

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
# A request published within this fraction of its interval after it was written keeps its deadline; one
# published later gets its whole interval again, counted from its publication.
TOLERATED_PUBLICATION_LAG = 0.25
# Waiting for an answer of the catalog: the states with a deadline.
WAITING = frozenset({SagaState.AWAITING_STOCK, SagaState.CANCEL_REQUESTED, SagaState.RELEASING})


@dataclass(frozen=True, slots=True)
class SagaPolicy:
    """How long the saga waits on the catalog; see "Deadlines" above."""

    first_deadline: timedelta = timedelta(seconds=30)
    max_deadline: timedelta = timedelta(minutes=10)
    give_up_after: timedelta = timedelta(minutes=15)
    # Each deadline lands between its interval and (1 + jitter) times it.
    jitter: float = 0.2
    random: Callable[[], float] = field(default=random.random, compare=False)
    # Message ids of the requests the saga sends (the scanner finds them in the outbox by it).
    new_id: Callable[[], UUID] = field(default=uuid.uuid4, compare=False)

    def __post_init__(self) -> None:
        if self.first_deadline <= timedelta(0) or self.max_deadline < self.first_deadline:
            raise ValueError("deadlines must be positive, the longest no shorter than the first")
        if self.give_up_after <= timedelta(0) or not 0 <= self.jitter <= 1:
            raise ValueError("the give-up horizon must be positive and the jitter between 0 and 1")

    def interval(self, sends: int) -> timedelta:
        """How long the ``sends``-th request of a wait is given: doubling from the first, capped."""
        doubled: timedelta = self.first_deadline * (2 ** min(max(sends - 1, 0), 30))
        return min(doubled, self.max_deadline)

    def deadline(self, start: datetime, sends: int) -> datetime:
        return start + self.interval(sends) * (1 + self.jitter * self.random())


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
    # Requests sent in the current wait (ReserveStock, or ReleaseStock while releasing).
    attempts: int
    deadline_at: datetime | None
    version: int = 0
    # The message id of the last request sent, and when the wait's first request left the outbox.
    request_id: UUID | None = None
    sent_at: datetime | None = None
    # When the current wait began (its first request was written).
    waiting_since: datetime | None = None
    # Decided, not yet sent: the handler takes them and sends them in its unit of work.
    commands: list[StockCommand] = field(default_factory=list)

    @classmethod
    def start(cls, order: Order, policy: SagaPolicy, now: datetime) -> Saga:
        saga = cls(order.id, SagaState.AWAITING_STOCK, attempts=0, deadline_at=None)
        saga._begin_wait(now)
        saga._ask_for_stock(order, policy, now)
        return saga

    def handle(self, trigger: t.Trigger, order: Order, policy: SagaPolicy, now: datetime) -> Step:
        """Apply the rule the table gives for the current state and ``trigger``."""
        default: Rule = _refuse if isinstance(trigger, t.Request) else _ignore
        rule = RULES.get((self.state, type(trigger)), default)
        return rule(Move(self, order, trigger, policy, now))

    def take_commands(self) -> list[StockCommand]:
        """The commands decided since the last call, for the handler to send."""
        taken, self.commands = self.commands, []
        return taken

    def is_due(self, now: datetime) -> bool:
        return self.deadline_at is not None and self.deadline_at <= now

    def _begin_wait(self, now: datetime) -> None:
        self.attempts, self.sent_at, self.waiting_since = 0, None, now

    def _request(self, policy: SagaPolicy, now: datetime) -> UUID:
        self.attempts += 1
        self.request_id = policy.new_id()
        self.deadline_at = policy.deadline(now, self.attempts)
        return self.request_id

    def _ask_for_stock(self, order: Order, policy: SagaPolicy, now: datetime) -> None:
        message_id = self._request(policy, now)
        self.commands.append(ReserveStock(order.id, order.lines, self.attempts, message_id))

    def _release(self, reason: str, policy: SagaPolicy, now: datetime) -> None:
        """Ask the catalog to give the stock back; only ``releasing`` waits for the answer."""
        message_id = self._request(policy, now) if self.state is SagaState.RELEASING else policy.new_id()
        self.commands.append(ReleaseStock(self.order_id, reason, message_id))

    def _become(self, state: SagaState) -> None:
        self.state = state
        if state not in WAITING:
            self.deadline_at = None

    def _wait_again(self, m: Move[t.DeadlineReached]) -> Step | None:
        """Move the deadline, without resending, while the last request has not had its chance yet.

        Not yet published (a relay backlog): check again one interval later. Published late (more than
        ``TOLERATED_PUBLICATION_LAG`` of its interval after it was written): wait until its whole
        interval, counted from the publication, is over.
        """
        published = m.trigger.published_at
        if published is None:
            self.deadline_at = m.policy.deadline(m.now, self.attempts)
            return Step("deadline_moved", f"request {self.request_id} not published yet")
        if self.sent_at is None:
            self.sent_at = published
        interval = m.policy.interval(self.attempts)
        if m.now < published + interval * (1 - TOLERATED_PUBLICATION_LAG):
            self.deadline_at = m.policy.deadline(published, self.attempts)
            return Step("deadline_moved", f"request {self.request_id} published at {published.isoformat()}")
        return None

    def horizon_passed(self, policy: SagaPolicy, now: datetime) -> bool:
        return self.sent_at is not None and now >= self.sent_at + policy.give_up_after


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
    if (waiting := m.saga._wait_again(m)) is not None:
        return waiting
    if m.saga.horizon_passed(m.policy, m.now):
        return _give_up(m)
    m.saga._ask_for_stock(m.order, m.policy, m.now)
    return Step("reserve_stock_resent", f"attempt {m.saga.attempts}")


def _release_once_sent(m: Move[t.DeadlineReached]) -> Step:
    # The customer cancelled: no resend, but the request gets its chance before the saga stops asking.
    # Then the stock is released and that release chased: a catalog slower than one interval (a freeze,
    # an outage) still answers it, and the order ends cancelled, not abandoned.
    if (waiting := m.saga._wait_again(m)) is not None:
        return waiting
    _cancel_and_release(m)
    return Step("cancelling", f"no answer after {m.saga.attempts} request(s); releasing the stock")


def _give_up(m: Move[t.DeadlineReached]) -> Step:
    # The catalog may have reserved without us hearing of it: release to be sure (release is idempotent).
    attempts = m.saga.attempts
    m.saga._become(SagaState.ABANDONED)
    m.saga._release(GAVE_UP, m.policy, m.now)
    m.order.cancel(GAVE_UP, m.now)
    return Step("gave_up", f"after {attempts} request(s): {GAVE_UP}")


def _resend_release(m: Move[t.DeadlineReached]) -> Step:
    if (waiting := m.saga._wait_again(m)) is not None:
        return waiting
    m.saga._release(CUSTOMER_CANCELLED, m.policy, m.now)
    return Step("release_stock_resent", f"attempt {m.saga.attempts}")


def _remember_cancel(m: Move[t.CustomerCancel]) -> Step:
    m.saga._become(SagaState.CANCEL_REQUESTED)
    return Step("cancel_requested", f"by {m.trigger.by}; applied when the catalog answers")


def _release_reserved(m: Move[t.StockReserved]) -> Step:
    _cancel_and_release(m)
    return Step("cancelling", "stock was reserved after the customer cancelled: releasing it")


def _start_release(m: Move[t.CustomerCancel]) -> Step:
    _cancel_and_release(m)
    return Step("cancelling", f"by {m.trigger.by}; releasing the stock")


def _cancel_and_release(m: Move[Any]) -> None:
    """The order is cancelling; ReleaseStock is sent and chased until StockReleased cancels it."""
    m.order.start_cancelling(CUSTOMER_CANCELLED, m.now)
    m.saga._become(SagaState.RELEASING)
    m.saga._begin_wait(m.now)
    m.saga._release(CUSTOMER_CANCELLED, m.policy, m.now)


def _finish_cancel(m: Move[t.StockReleased]) -> Step:
    m.order.cancel(CUSTOMER_CANCELLED, m.now)
    m.saga._become(SagaState.CANCELLED)
    return Step("cancelled", "stock released" if m.trigger.released else "the catalog held nothing")


def _complete(m: Move[t.AdminComplete]) -> Step:
    m.order.complete(m.now)
    m.saga._become(SagaState.COMPLETED)
    return Step("completed", f"by {m.trigger.by}")


def _release_again(m: Move[t.StockReserved]) -> Step:
    m.saga._release(m.order.reason or GAVE_UP, m.policy, m.now)
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
    (S.CANCEL_REQUESTED, t.StockReserved): _release_reserved,
    (S.CANCEL_REQUESTED, t.StockReservationRejected): _reject,
    (S.CANCEL_REQUESTED, t.DeadlineReached): _release_once_sent,
    (S.CANCEL_REQUESTED, t.CustomerCancel): _already_cancelled,
    (S.CONFIRMED, t.CustomerCancel): _start_release,
    (S.CONFIRMED, t.AdminComplete): _complete,
    (S.RELEASING, t.StockReleased): _finish_cancel,
    (S.RELEASING, t.DeadlineReached): _resend_release,
    (S.RELEASING, t.CustomerCancel): _already_cancelled,
    (S.ABANDONED, t.StockReserved): _release_again,
    (S.ABANDONED, t.StockReleased): _note_release,
    (S.ABANDONED, t.CustomerCancel): _already_cancelled,
    (S.CANCELLED, t.CustomerCancel): _already_cancelled,
}
