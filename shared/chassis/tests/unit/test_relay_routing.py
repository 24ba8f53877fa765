"""Which rows the relay publishes ``mandatory``, and which exchange (and topic) a broker refusal names."""

from __future__ import annotations

import aiormq
import pytest

from chassis.outbox.publisher import _refused_target
from chassis.outbox.routing import must_be_routed
from contracts import topology


@pytest.mark.parametrize("command", sorted({t for ts in topology.SENDS_COMMANDS.values() for t in ts}))
def test_every_command_must_reach_a_queue(command: str) -> None:
    assert must_be_routed(command)


@pytest.mark.parametrize("event", sorted({t for ts in topology.SUBSCRIPTIONS.values() for t in ts}))
def test_every_subscribed_event_must_reach_a_queue(event: str) -> None:
    assert must_be_routed(event)


def test_an_event_nobody_subscribes_to_may_reach_none() -> None:
    assert not must_be_routed("folio.notification.notification-sent.v1")


def test_a_type_the_contracts_do_not_know_must_reach_a_queue() -> None:
    assert must_be_routed("folio.test.pinged.v1")


@pytest.mark.parametrize(
    ("error", "target"),
    [
        (
            aiormq.exceptions.ChannelAccessRefused(
                "ACCESS_REFUSED - access to exchange 'catalog.commands' in vhost 'folio' refused for user 'u'"
            ),
            ("catalog.commands", None),
        ),
        (
            aiormq.exceptions.ChannelAccessRefused(
                "ACCESS_REFUSED - access to topic 'a.b' in exchange 'ordering.events' in vhost 'v' refused"
                " for user 'u'"
            ),
            ("ordering.events", "a.b"),
        ),
        (
            aiormq.exceptions.ChannelNotFoundEntity("NOT_FOUND - no exchange 'gone.events' in vhost 'folio'"),
            ("gone.events", None),
        ),
        (
            aiormq.exceptions.ChannelPreconditionFailed("PRECONDITION_FAILED - message size 2000 is larger"),
            None,
        ),
        (aiormq.exceptions.ChannelAccessRefused("ACCESS_REFUSED - something else"), None),
    ],
    ids=["exchange refused", "topic refused", "exchange missing", "too large", "unnamed"],
)
def test_a_refusal_names_its_exchange_and_topic(
    error: aiormq.exceptions.ChannelClosed, target: tuple[str, str | None] | None
) -> None:
    assert _refused_target(error) == target
