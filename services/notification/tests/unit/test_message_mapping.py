"""Domain events become the contracts' NotificationSent and NotificationFailed."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from chassis.uow import Outgoing
from contracts import notification as wire
from contracts.ordering import OrderCancelled, OrderCompleted, OrderConfirmed
from notification.adapters.message_mapping import ORDER_EMAIL_MESSAGES, PRIVATE_EVENTS, to_message
from notification.domain import events

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def fields() -> dict[str, object]:
    return {
        "notification_id": uuid4(),
        "source_message_id": uuid4(),
        "source_type": OrderConfirmed.TYPE,
        "order_id": uuid4(),
        "customer_id": "user-1",
        "recipient": "ada@example.com",
        "template": "order-confirmed",
        "at": AT,
    }


def test_a_sent_notification_becomes_notification_sent() -> None:
    event = events.NotificationSent(**fields())  # type: ignore[arg-type]

    outgoing = to_message(event)

    assert isinstance(outgoing, Outgoing)
    message = outgoing.message
    assert isinstance(message, wire.NotificationSent)
    # Caused by the order message that asked for the e-mail, in that order's workflow.
    assert outgoing.causation_id == str(event.source_message_id)
    assert outgoing.correlation_id == str(event.order_id)
    assert message.notification_id == event.notification_id
    assert message.source_message_id == event.source_message_id
    assert message.sent_at == AT
    assert message.subject_value() == str(event.order_id)


def test_a_failed_notification_becomes_notification_failed_with_reason_and_attempts() -> None:
    event = events.NotificationFailed(**fields(), reason="gave up", attempts=5)  # type: ignore[arg-type]

    outgoing = to_message(event)

    assert isinstance(outgoing, Outgoing)
    message = outgoing.message
    assert isinstance(message, wire.NotificationFailed)
    assert outgoing.causation_id == str(event.source_message_id)
    assert (message.reason, message.attempts, message.failed_at) == ("gave up", 5, AT)


def test_the_consumer_takes_exactly_the_order_messages_that_ask_for_an_email() -> None:
    assert set(ORDER_EMAIL_MESSAGES) == {OrderConfirmed, OrderCancelled, OrderCompleted}


def test_the_worker_subscribes_to_what_the_topology_says_notification_consumes() -> None:
    from contracts.topology import SUBSCRIPTIONS
    from notification.entrypoints.consumers import subscriptions

    taken = {message.TYPE for subscription in subscriptions() for message in subscription.messages}

    assert taken == set(SUBSCRIPTIONS["notification"])
    assert [s.handler for s in subscriptions()] == ["order_emails"]


def test_an_event_nobody_mapped_is_an_error_not_silence() -> None:
    with pytest.raises(TypeError, match="no message for object"):
        to_message(object())


def test_notification_keeps_none_of_its_events_private() -> None:
    assert PRIVATE_EVENTS == ()
