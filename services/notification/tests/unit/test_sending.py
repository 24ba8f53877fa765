"""The sender's pass without I/O: claim, hand over, settle; stuck attempts resolved, never resent."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self
from uuid import UUID, uuid4

import pytest

from notification.application import sending_handlers
from notification.application.commands import SettleAttempt
from notification.application.sending_handlers import send_due, settle_attempt
from notification.domain.content import EmailContent
from notification.domain.delivery import Accepted, DeliveryOutcome, DeliveryPolicy, Refused
from notification.domain.events import NotificationFailed, NotificationSent
from notification.domain.notification import WORKER_STOPPED, Notification, Status

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
POLICY = DeliveryPolicy(
    backoff_base=timedelta(seconds=1),
    jitter=0,
    give_up_after=timedelta(seconds=2),
    sending_lease=timedelta(minutes=1),
)


class Table:
    """Rows as a database would keep them: copies in, copies out; committed events kept for inspection."""

    def __init__(self) -> None:
        self.rows: dict[UUID, Notification] = {}
        self.published: list[Any] = []

    def put(self, notification: Notification) -> None:
        self.rows[notification.id] = copy.deepcopy(notification)


class FakeNotifications:
    def __init__(self, table: Table, staged: dict[UUID, Notification]) -> None:
        self._table = table
        self._staged = staged

    async def add(self, notification: Notification) -> bool:
        if any(n.source_message_id == notification.source_message_id for n in self._table.rows.values()):
            return False
        self._staged[notification.id] = copy.deepcopy(notification)
        return True

    async def save(self, notification: Notification) -> None:
        self._staged[notification.id] = copy.deepcopy(notification)

    async def save_all(self, notifications: Sequence[Notification]) -> None:
        for notification in notifications:
            await self.save(notification)

    async def save_settled(self, notification: Notification, *, attempt: int) -> bool:
        row = self._table.rows.get(notification.id)
        if row is None or row.status is not Status.SENDING or row.attempts != attempt:
            return False
        await self.save(notification)
        return True

    async def status_of(self, notification_id: UUID) -> Status | None:
        row = self._table.rows.get(notification_id)
        return row.status if row else None

    async def lock_due(self, now: datetime, limit: int) -> Sequence[Notification]:
        due = [n for n in self._table.rows.values() if n.is_due(now)]
        return [copy.deepcopy(n) for n in due[:limit]]

    async def next_due(self) -> datetime | None:
        # As a transaction reads: its own writes over what is committed.
        rows = {**self._table.rows, **self._staged}.values()
        return min((n.next_attempt_at for n in rows if n.status is Status.PENDING), default=None)

    async def lock_stuck(self, claimed_before: datetime, limit: int) -> Sequence[Notification]:
        stuck = [
            n
            for n in self._table.rows.values()
            if n.status is Status.SENDING and n.claimed_at is not None and n.claimed_at <= claimed_before
        ]
        return [copy.deepcopy(n) for n in stuck[:limit]]

    async def lock_claimed(self, claim_id: UUID) -> Sequence[Notification]:
        claimed = [
            n for n in self._table.rows.values() if n.status is Status.SENDING and n.claim_id == claim_id
        ]
        return [copy.deepcopy(n) for n in claimed]


class FakeUow:
    def __init__(self, table: Table) -> None:
        self._table = table
        self._staged: dict[UUID, Notification] = {}
        self._tracked: list[Notification] = []
        self.notifications = FakeNotifications(table, self._staged)
        self.reads: Any = None
        self.policy = POLICY

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._staged.clear()

    def track(self, aggregate: Any) -> None:
        self._tracked.append(aggregate)

    async def commit(self) -> None:
        for notification in self._staged.values():
            notification.events = []
            self._table.put(notification)
        for aggregate in self._tracked:
            self._table.published.extend(aggregate.events)
            aggregate.events.clear()
        self._staged.clear()


class FakeMailer:
    def __init__(self, *outcomes: DeliveryOutcome | Exception, sessions: int = 4) -> None:
        self.outcomes = list(outcomes)
        self.handed_over: list[UUID] = []
        self.sessions = sessions

    async def deliver(self, notification: Notification) -> DeliveryOutcome:
        self.handed_over.append(notification.id)
        outcome = self.outcomes.pop(0) if self.outcomes else Accepted()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def recorded(table: Table, *, at: datetime = NOW) -> Notification:
    notification = Notification.record(
        notification_id=uuid4(),
        source_message_id=uuid4(),
        source_type="folio.ordering.order-confirmed.v1",
        order_id=uuid4(),
        customer_id="user-1",
        recipient="ada@example.com",
        template="order-confirmed",
        content=EmailContent(subject="s", text="t", html="h"),
        at=at,
    )
    table.put(notification)
    return notification


async def test_a_due_notification_is_handed_over_once_and_marked_sent() -> None:
    table = Table()
    notification = recorded(table)
    mailer = FakeMailer(Accepted("250 ok"))

    first = await send_due(lambda: FakeUow(table), mailer, clock=lambda: NOW, batch=10)
    second = await send_due(lambda: FakeUow(table), mailer, clock=lambda: NOW, batch=10)

    assert (first.claimed, second.claimed) == (1, 0)
    assert mailer.handed_over == [notification.id]
    assert table.rows[notification.id].status is Status.SENT
    assert [type(e) for e in table.published] == [NotificationSent]


async def test_a_refused_notification_waits_out_its_backoff_before_the_next_attempt() -> None:
    table = Table()
    notification = recorded(table)
    mailer = FakeMailer(Refused("451 later", 451), Accepted())

    await send_due(lambda: FakeUow(table), mailer, clock=lambda: NOW, batch=10)
    too_soon = await send_due(lambda: FakeUow(table), mailer, clock=lambda: NOW, batch=10)
    later = await send_due(lambda: FakeUow(table), mailer, clock=lambda: NOW + timedelta(seconds=1), batch=10)

    assert (too_soon.claimed, later.claimed) == (0, 1)
    assert table.rows[notification.id].status is Status.SENT
    assert table.rows[notification.id].attempts == 2


async def test_a_pass_says_when_the_next_notification_is_due_from_its_claim_and_its_own_backoffs() -> None:
    table = Table()
    refused, sent = recorded(table), recorded(table)
    later = recorded(table, at=NOW + timedelta(minutes=10))
    # The later one is due after the refused one's backoff (1 s), so the backoff is what comes next.
    mailer = FakeMailer(Refused("451 later", 451), Accepted())

    first = await send_due(lambda: FakeUow(table), mailer, clock=lambda: NOW, batch=10)
    retried = await send_due(
        lambda: FakeUow(table), mailer, clock=lambda: NOW + timedelta(seconds=1), batch=10
    )
    idle = await send_due(lambda: FakeUow(table), mailer, clock=lambda: NOW + timedelta(minutes=10), batch=10)
    done = await send_due(lambda: FakeUow(table), mailer, clock=lambda: NOW + timedelta(minutes=10), batch=10)

    assert mailer.handed_over == [refused.id, sent.id, refused.id, later.id]
    assert first.next_due == NOW + timedelta(seconds=1)
    # Read by the claim, which left only the later one pending.
    assert (retried.claimed, retried.next_due) == (1, later.next_attempt_at)
    assert (idle.claimed, done.claimed, done.next_due) == (1, 0, None)


async def test_a_pass_claims_no_more_than_the_mailer_has_sessions_so_none_waits_sending() -> None:
    table = Table()
    for _ in range(5):
        recorded(table)
    mailer = FakeMailer(sessions=2)

    first = await send_due(lambda: FakeUow(table), mailer, clock=lambda: NOW, batch=10)

    assert (first.claimed, first.full) == (2, True)
    assert sorted(n.status for n in table.rows.values()) == [Status.PENDING] * 3 + [Status.SENT] * 2


async def test_a_mailer_failing_unexpectedly_leaves_the_delivery_unknown_and_never_retries() -> None:
    table = Table()
    notification = recorded(table)
    mailer = FakeMailer(RuntimeError("bug"))

    await send_due(lambda: FakeUow(table), mailer, clock=lambda: NOW, batch=10)
    await send_due(lambda: FakeUow(table), mailer, clock=lambda: NOW + timedelta(hours=1), batch=10)

    assert table.rows[notification.id].status is Status.UNCERTAIN
    assert mailer.handed_over == [notification.id]
    [failed] = table.published
    assert isinstance(failed, NotificationFailed)
    assert "mailer failed" in failed.reason


async def test_a_notification_left_sending_past_the_lease_is_marked_uncertain_and_not_resent() -> None:
    table = Table()
    stuck = recorded(table)
    stuck.start_attempt(NOW)
    table.put(stuck)
    fresh = recorded(table, at=NOW + timedelta(seconds=59))
    fresh.start_attempt(NOW + timedelta(seconds=59))
    table.put(fresh)
    mailer = FakeMailer()

    later = NOW + timedelta(minutes=1)
    result = await send_due(lambda: FakeUow(table), mailer, clock=lambda: later, batch=10)

    assert result.resolved_stuck == 1
    assert mailer.handed_over == []
    assert table.rows[stuck.id].status is Status.UNCERTAIN
    assert table.rows[fresh.id].status is Status.SENDING
    [failed] = table.published
    assert isinstance(failed, NotificationFailed)
    assert failed.reason == WORKER_STOPPED


async def test_an_outcome_arriving_after_recovery_resolved_the_attempt_changes_nothing() -> None:
    table = Table()
    notification = recorded(table)
    notification.start_attempt(NOW)
    table.put(notification)
    resolved = copy.deepcopy(notification)
    resolved.give_up_unknown(WORKER_STOPPED, NOW + timedelta(minutes=2))
    resolved.events.clear()
    table.put(resolved)

    settled = await settle_attempt(
        SettleAttempt(notification, Accepted(), NOW + timedelta(minutes=3)), FakeUow(table)
    )

    assert settled is None
    assert table.rows[notification.id].status is Status.UNCERTAIN
    assert table.published == []


@pytest.fixture
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries of a recording or a withdrawal follow each other at once."""
    monkeypatch.setattr(sending_handlers, "SETTLE_FIRST_PAUSE", 0.0)


class FlakyUow(FakeUow):
    """A unit of work whose commit fails while the database is away."""

    def __init__(self, table: Table, *, fails: bool) -> None:
        super().__init__(table)
        self.fails = fails

    async def commit(self) -> None:
        if self.fails:
            raise ConnectionError("database unreachable")
        await super().commit()


async def test_an_outcome_is_recorded_even_when_the_database_blips_while_recording_it(
    no_pauses: None,
) -> None:
    table = Table()
    notification = recorded(table)
    # Resolving stuck rows and claiming work; the first two attempts to record the outcome do not.
    commits = itertools.chain([False, False, True, True], itertools.repeat(False))

    result = await send_due(
        lambda: FlakyUow(table, fails=next(commits)), FakeMailer(Accepted()), clock=lambda: NOW, batch=10
    )

    assert result.outcomes == (Status.SENT,)
    assert table.rows[notification.id].status is Status.SENT


async def test_an_outcome_is_recorded_however_long_the_database_is_away(no_pauses: None) -> None:
    table = Table()
    notification = recorded(table)
    # Claiming works, then recording meets the outage many more times than the attempts other errors get.
    outage_commits = sending_handlers.SETTLE_ATTEMPTS * 3
    commits = itertools.chain([False, False], itertools.repeat(True, outage_commits), itertools.repeat(False))

    result = await send_due(
        lambda: FlakyUow(table, fails=next(commits)),
        FakeMailer(Accepted()),
        clock=lambda: NOW,
        batch=10,
        outage=lambda exc: isinstance(exc, ConnectionError),
    )

    assert result.outcomes == (Status.SENT,)
    assert table.rows[notification.id].status is Status.SENT
    # Its caller starts counting the lease again: another worker may be waiting out the same outage.
    assert result.met_outage


async def test_a_pass_that_met_no_outage_says_so() -> None:
    table = Table()
    recorded(table)

    result = await send_due(lambda: FakeUow(table), FakeMailer(), clock=lambda: NOW, batch=10)

    assert result.outcomes == (Status.SENT,)
    assert not result.met_outage


async def test_a_pass_told_not_to_recover_leaves_rows_sending_past_the_lease_alone() -> None:
    table = Table()
    stuck = recorded(table)
    stuck.start_attempt(NOW)
    table.put(stuck)

    later = NOW + timedelta(minutes=2)
    result = await send_due(
        lambda: FakeUow(table), FakeMailer(), clock=lambda: later, batch=10, recover=False
    )

    assert result.resolved_stuck == 0
    assert table.rows[stuck.id].status is Status.SENDING
    assert table.published == []


class AnswerLostUow(FakeUow):
    """A unit of work whose commit lands but whose answer is lost with its connection (session terminated)."""

    async def commit(self) -> None:
        await super().commit()
        raise ConnectionError("connection was closed in the middle of operation")


async def test_a_claim_committed_unheard_is_put_back_pending_and_sent_once_later(no_pauses: None) -> None:
    table = Table()
    notification = recorded(table)
    other = recorded(table)
    # Another worker's claim in flight: not this worker's to put back.
    other.start_attempt(NOW, uuid4())
    table.put(other)
    # Resolving (nothing stuck) commits; the claim commits but its answer is lost; the withdrawal works.
    uows = iter([FakeUow(table), AnswerLostUow(table), FakeUow(table)])
    mailer = FakeMailer(Accepted())

    with pytest.raises(ConnectionError):
        await send_due(lambda: next(uows), mailer, clock=lambda: NOW, batch=10)
    assert table.rows[notification.id].status is Status.PENDING
    assert table.rows[other.id].status is Status.SENDING
    assert mailer.handed_over == []

    later = NOW + timedelta(minutes=5)
    result = await send_due(lambda: FakeUow(table), mailer, clock=lambda: later, batch=10, recover=False)

    assert result.outcomes == (Status.SENT,)
    assert mailer.handed_over == [notification.id]
    assert table.rows[notification.id].attempts == 1
    assert [type(e) for e in table.published] == [NotificationSent]


async def test_a_claim_withdrawal_rides_out_the_outage_that_lost_the_claims_answer(no_pauses: None) -> None:
    table = Table()
    notification = recorded(table)
    away = itertools.repeat(True, sending_handlers.SETTLE_ATTEMPTS * 3)
    uows = itertools.chain(
        [FakeUow(table), AnswerLostUow(table)],
        (FlakyUow(table, fails=f) for f in away),
        itertools.repeat(FakeUow(table)),
    )

    with pytest.raises(ConnectionError):
        await send_due(
            lambda: next(uows),
            FakeMailer(),
            clock=lambda: NOW,
            batch=10,
            outage=lambda exc: isinstance(exc, ConnectionError),
        )

    assert table.rows[notification.id].status is Status.PENDING
    assert table.rows[notification.id].claim_id is None
