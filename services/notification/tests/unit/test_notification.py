"""The Notification aggregate: its states, the rules between them, and the events it raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from notification.domain.content import EmailContent
from notification.domain.delivery import Accepted, DeliveryPolicy, Refused, Unknown
from notification.domain.errors import TransitionNotAllowed
from notification.domain.events import NotificationFailed, NotificationSent
from notification.domain.notification import WORKER_STOPPED, Notification, Status

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
# Pauses 2, 4, 8 s: the third attempt starts 6 s after the first, a fourth would start at 14 s.
POLICY = DeliveryPolicy(
    backoff_base=timedelta(seconds=2),
    backoff_max=timedelta(seconds=60),
    give_up_after=timedelta(seconds=10),
    jitter=0,
    sending_lease=timedelta(minutes=2),
)


def new_notification(at: datetime = NOW) -> Notification:
    return Notification.record(
        notification_id=uuid4(),
        source_message_id=uuid4(),
        source_type="folio.ordering.order-confirmed.v1",
        order_id=uuid4(),
        customer_id="user-1",
        recipient="ada@example.com",
        template="order-confirmed",
        content=EmailContent(subject="Confirmed", text="text", html="<p>html</p>"),
        at=at,
    )


def sending(at: datetime = NOW) -> Notification:
    notification = new_notification(at)
    notification.start_attempt(at)
    return notification


def test_a_recorded_notification_is_pending_and_due_at_once() -> None:
    notification = new_notification()

    assert notification.status is Status.PENDING
    assert notification.attempts == 0
    assert notification.is_due(NOW)
    assert notification.events == []


def test_starting_an_attempt_counts_it_and_marks_the_notification_sending() -> None:
    notification = sending()

    assert notification.status is Status.SENDING
    assert notification.attempts == 1
    assert notification.claimed_at == NOW
    assert not notification.is_due(NOW)


def test_an_accepted_hand_off_marks_it_sent_and_raises_notification_sent() -> None:
    notification = sending()
    later = NOW + timedelta(seconds=1)

    notification.settle(Accepted("250 ok"), later, POLICY)

    assert notification.status is Status.SENT
    assert notification.sent_at == later
    assert notification.claimed_at is None
    [event] = notification.events
    assert isinstance(event, NotificationSent)
    assert event.notification_id == notification.id
    assert event.source_message_id == notification.source_message_id
    assert event.at == later


def test_a_transient_refusal_goes_back_to_pending_after_a_growing_pause() -> None:
    notification = sending()

    notification.settle(Refused("451 try later", 451), NOW, POLICY)
    first_pause = notification.next_attempt_at - NOW
    second_start = notification.next_attempt_at
    notification.start_attempt(second_start)
    notification.settle(Refused("not handed over: ConnectionRefusedError"), second_start, POLICY)
    second_pause = notification.next_attempt_at - second_start

    assert notification.status is Status.PENDING
    assert notification.last_error == "not handed over: ConnectionRefusedError"
    assert (first_pause, second_pause) == (timedelta(seconds=2), timedelta(seconds=4))
    assert notification.events == []


def test_a_pending_notification_cannot_start_before_its_pause_is_over() -> None:
    notification = sending()
    notification.settle(Refused("451"), NOW, POLICY)

    with pytest.raises(TransitionNotAllowed):
        notification.start_attempt(NOW + timedelta(seconds=1))


def test_a_permanent_refusal_fails_at_once_with_the_servers_reply() -> None:
    notification = sending()

    notification.settle(Refused("550 5.1.1 no such mailbox", 550, permanent=True), NOW, POLICY)

    assert (notification.status, notification.attempts) == (Status.FAILED, 1)
    assert notification.last_error == "550 5.1.1 no such mailbox"
    [event] = notification.events
    assert isinstance(event, NotificationFailed)
    assert (event.reason, event.attempts) == ("550 5.1.1 no such mailbox", 1)


def test_transient_refusals_give_up_once_the_pauses_pass_the_horizon_and_keep_the_reason() -> None:
    notification = new_notification()
    at = NOW
    while notification.status is not Status.FAILED:
        notification.start_attempt(at)
        notification.settle(Refused("451 4.3.0 try later", 451), at, POLICY)
        at = notification.next_attempt_at

    assert notification.attempts == 3
    [event] = notification.events
    assert isinstance(event, NotificationFailed)
    assert event.attempts == 3
    assert event.reason == "gave up after 3 attempts: 451 4.3.0 try later"


def test_an_unknown_outcome_is_never_retried_and_raises_notification_failed() -> None:
    notification = sending()

    notification.settle(Unknown("connection lost during DATA"), NOW, POLICY)

    assert notification.status is Status.UNCERTAIN
    assert notification.status.is_final
    [event] = notification.events
    assert isinstance(event, NotificationFailed)
    assert event.reason == "connection lost during DATA"
    with pytest.raises(TransitionNotAllowed):
        notification.start_attempt(NOW + timedelta(days=1))


def test_a_notification_sending_past_the_lease_is_stuck_and_one_within_it_is_not() -> None:
    notification = sending()

    assert not notification.is_stuck(NOW + timedelta(minutes=1), POLICY)
    assert notification.is_stuck(NOW + timedelta(minutes=2), POLICY)


def test_giving_up_a_stuck_notification_says_the_worker_stopped_during_the_hand_off() -> None:
    notification = sending()

    notification.give_up_unknown(WORKER_STOPPED, NOW + timedelta(minutes=3))

    assert notification.status is Status.UNCERTAIN
    [event] = notification.events
    assert isinstance(event, NotificationFailed)
    assert event.reason == "delivery unknown: worker stopped during SMTP hand-off"
    assert event.attempts == 1


@pytest.mark.parametrize("final", [Status.SENT, Status.FAILED, Status.UNCERTAIN])
def test_a_final_notification_takes_no_further_outcome(final: Status) -> None:
    notification = sending()
    notification.status = final

    with pytest.raises(TransitionNotAllowed):
        notification.settle(Accepted(), NOW, POLICY)


def test_an_outcome_without_an_attempt_in_flight_is_refused() -> None:
    with pytest.raises(TransitionNotAllowed):
        new_notification().settle(Accepted(), NOW, POLICY)


def test_a_very_long_error_is_shortened() -> None:
    notification = sending()

    notification.settle(Refused("x" * 5000), NOW, POLICY)

    assert notification.last_error is not None
    assert len(notification.last_error) == 1000


def test_a_subject_must_be_one_non_empty_line() -> None:
    with pytest.raises(ValueError, match="single line"):
        EmailContent(subject="Hi\r\nBcc: evil@example.com", text="", html="")
    with pytest.raises(ValueError, match="subject"):
        EmailContent(subject="  ", text="", html="")
