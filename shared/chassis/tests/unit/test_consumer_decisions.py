"""What the consumer does with a delivery, with the broker and database replaced by small fakes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage
from aiormq.abc import ConfirmationFrameType
from pamqp.commands import Basic
from prometheus_client import REGISTRY

from chassis.messaging import consumer as consumer_module
from chassis.messaging import context
from chassis.messaging.consumer import (
    ATTEMPT,
    ATTEMPTS,
    ERROR,
    ERROR_TYPE,
    LAST_ERROR,
    QUEUE,
    Consumer,
    RetryPolicy,
    Subscription,
)
from chassis.messaging.recovery import Recovery
from chassis.messaging.republish import PublishNotConfirmed, ensure_confirmed
from contracts.base import Event
from contracts.envelope import Envelope
from contracts.upcasting import Upcasters
from testkit.inmemory import FakeSession, FakeUnitOfWork


class Ping(Event):
    TYPE: ClassVar[str] = "folio.test.ping.v2"
    OWNER: ClassVar[str] = "test"
    SUBJECT: ClassVar[str] = "ping_id"

    ping_id: str
    n: int


@dataclass
class FakeDelivery:
    body: bytes
    headers: dict[str, Any]
    content_type: str | None = "application/json"
    content_encoding: str | None = None
    message_id: str | None = "amqp-id"
    correlation_id: str | None = None
    timestamp: Any = None
    type: str | None = None
    app_id: str | None = None
    reply_to: str | None = None
    outcome: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.outcome.append("ack")

    async def nack(self, requeue: bool = True) -> None:
        self.outcome.append(f"nack(requeue={requeue})")


@dataclass
class Setup:
    claimed: bool = True
    fail: bool = False
    confirm: bool = True
    published: list[tuple[str, aio_pika.Message]] = field(default_factory=list)
    handled: list[tuple[Ping, context.MessageContext]] = field(default_factory=list)
    session: FakeSession | None = None
    # How many times the handler (or the republish) finds its dependency unreachable before it answers.
    database_down_for: int = 0
    broker_down_for: int = 0
    probes: int = 0
    hold_limit: float = 60.0
    intake: list[str] = field(default_factory=list)
    # The held-deliveries gauge of the queue, as each probe and each intake change found it.
    held_seen: list[float] = field(default_factory=list)

    async def handle(self, ping: Ping, uow: FakeUnitOfWork) -> None:
        self.handled.append((ping, context.current()))
        if self.database_down_for:
            self.database_down_for -= 1
            raise ConnectionRefusedError(111, "Connect call failed")
        if self.fail:
            raise RuntimeError("handler broke")

    async def probe(self) -> None:
        self.probes += 1
        self.held_seen.append(held())
        if self.database_down_for:
            self.database_down_for -= 1
            raise ConnectionRefusedError(111, "still down")

    async def pause(self) -> None:
        self.intake.append("pause")
        self.held_seen.append(held())

    async def resume(self) -> None:
        self.intake.append("resume")
        self.held_seen.append(held())

    async def republish(self, message: aio_pika.Message, routing_key: str) -> ConfirmationFrameType | None:
        if self.broker_down_for:
            self.broker_down_for -= 1
            raise ConnectionResetError(104, "Connection reset by peer")
        self.published.append((routing_key, message))
        answer: ConfirmationFrameType = Basic.Ack() if self.confirm else Basic.Nack()
        ensure_confirmed(answer)
        return answer

    def consumer(self, upcasters: Upcasters | None = None) -> Consumer[FakeUnitOfWork]:
        def uow() -> FakeUnitOfWork:
            self.session = FakeSession(self.claimed)
            return FakeUnitOfWork(self.session)

        return Consumer(
            queue="svc.ping",
            subscription=Subscription("ping", (Ping,), self.handle),
            uow_factory=uow,
            retry=RetryPolicy((1, 2)),
            republish=self.republish,
            upcasters=upcasters,
            recovery=Recovery(self.probe, first_pause=0.01, longest_pause=0.01),
            intake=self,
            hold_limit=self.hold_limit,
        )


def held() -> float:
    return REGISTRY.get_sample_value("folio_consumer_deliveries_held", {"queue": "svc.ping"}) or 0.0


def delivery(body: bytes = b'{"ping_id": "p1", "n": 1, "extra": true}', /, **headers: Any) -> FakeDelivery:
    envelope = Envelope(type=Ping.TYPE, source="/test", subject="p1", correlation_id="corr-1")
    return FakeDelivery(body, {**envelope.to_headers(), **headers})


async def process(setup: Setup, raw: FakeDelivery, upcasters: Upcasters | None = None) -> None:
    """As FastStream does: the queue's parser, its decoder set on the delivery, then the consumer."""
    consumer = setup.consumer(upcasters)
    parsed = await consumer.codec.parse(cast("AbstractIncomingMessage", raw))
    parsed.set_decoder(consumer.codec.decode)
    await consumer.process(parsed)


async def test_a_valid_message_is_handled_in_its_context_committed_and_acked() -> None:
    setup, raw = Setup(), delivery()
    await process(setup, raw)
    ((ping, handling),) = setup.handled
    assert ping == Ping(ping_id="p1", n=1)  # unknown fields ignored
    assert str(handling.message_id) == raw.headers["cloudEvents_id"]
    assert handling.correlation_id == "corr-1"
    assert setup.session is not None
    assert setup.session.committed
    assert raw.outcome == ["ack"]
    assert setup.published == []


async def test_a_duplicate_is_acked_without_running_the_handler() -> None:
    setup, raw = Setup(claimed=False), delivery()
    await process(setup, raw)
    assert setup.handled == []
    assert raw.outcome == ["ack"]


async def test_a_failure_goes_to_the_next_delay_queue_with_the_attempt_counted() -> None:
    setup, raw = Setup(fail=True), delivery(**{ATTEMPT: 1, "x-death": [{"queue": "svc.ping.retry.1"}]})
    await process(setup, raw)
    ((routing_key, message),) = setup.published
    assert routing_key == "svc.ping.retry.2"
    assert message.headers[ATTEMPT] == 2
    assert "handler broke" in str(message.headers[LAST_ERROR])
    assert "x-death" not in message.headers
    assert message.body == raw.body
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert raw.outcome == ["ack"]


async def test_the_last_failure_is_parked_with_its_error() -> None:
    setup, raw = Setup(fail=True), delivery(**{ATTEMPT: 2})
    await process(setup, raw)
    ((routing_key, message),) = setup.published
    assert routing_key == "svc.ping.dlq"
    headers = message.headers
    assert headers[ERROR_TYPE] == "RuntimeError"
    assert "handler broke" in str(headers[ERROR])
    assert headers[ATTEMPTS] == 3
    assert headers[QUEUE] == "svc.ping"
    assert ATTEMPT not in headers
    assert raw.outcome == ["ack"]


@pytest.mark.parametrize(
    ("raw", "error_type"),
    [
        (delivery(b'{"ping_id": "p1"}'), "ValidationError"),
        (delivery(b"not json"), "InvalidMessage"),
        (delivery(cloudEvents_type="folio.test.pong.v1"), "UnexpectedType"),
        (FakeDelivery(b"{}", {}), "InvalidEnvelope"),
    ],
)
async def test_what_can_never_succeed_is_parked_at_once(raw: FakeDelivery, error_type: str) -> None:
    setup = Setup()
    await process(setup, raw)
    assert setup.handled == []
    ((routing_key, message),) = setup.published
    assert routing_key == "svc.ping.dlq"
    assert message.headers[ERROR_TYPE] == error_type
    assert message.headers[ATTEMPTS] == 0
    assert raw.outcome == ["ack"]


async def test_an_older_version_is_upcast_before_validation() -> None:
    upcasters = Upcasters()
    upcasters.register("folio.test.ping.v1", Ping.TYPE, lambda data: {**data, "n": 0})
    setup, raw = Setup(), delivery(b'{"ping_id": "old"}', cloudEvents_type="folio.test.ping.v1")
    await process(setup, raw, upcasters)
    assert [ping for ping, _ in setup.handled] == [Ping(ping_id="old", n=0)]
    assert raw.outcome == ["ack"]


async def test_an_unconfirmed_republish_gives_the_message_back_to_the_broker() -> None:
    setup, raw = Setup(fail=True, confirm=False), delivery()
    await process(setup, raw)
    assert raw.outcome == ["nack(requeue=True)"]


def test_only_an_ack_confirms() -> None:
    ensure_confirmed(Basic.Ack())
    with pytest.raises(PublishNotConfirmed):
        ensure_confirmed(Basic.Nack())
    with pytest.raises(PublishNotConfirmed):
        ensure_confirmed(None)


async def test_a_database_outage_holds_the_message_without_spending_an_attempt() -> None:
    setup, raw = Setup(database_down_for=3), delivery(**{ATTEMPT: 2})
    await process(setup, raw)
    # Its last attempt: a handler error now would park it. The outage did not.
    assert setup.published == []
    assert raw.outcome == ["ack"]
    assert setup.probes == 3, "two failed probes, then one that passed"
    assert len(setup.handled) == 2, "once into the outage, once after the probe passed"
    assert setup.intake == []
    assert setup.held_seen == [1, 1, 1], "counted as held while the database was probed"
    assert held() == 0, "no longer held once handled and acked"


async def test_a_hold_longer_than_its_limit_pauses_intake_and_gives_the_message_back() -> None:
    setup, raw = Setup(database_down_for=5, hold_limit=0.0), delivery()
    await process(setup, raw)
    assert raw.outcome == ["nack(requeue=True)"]
    assert setup.intake == ["pause", "resume"]
    assert setup.published == []
    assert setup.database_down_for == 0, "resumed only once the probe passed"
    # Held until given back; then it is ready in its queue again (the broker counts it), not held here.
    assert setup.held_seen[0] == 1, "held when intake paused"
    assert setup.held_seen[-1] == 0, "given back before the intake resumed"
    assert held() == 0


async def test_a_republish_the_broker_cannot_take_is_held_and_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(consumer_module, "HOLD_PAUSES", (0.01,))
    setup, raw = Setup(fail=True, broker_down_for=2), delivery()
    await process(setup, raw)
    ((routing_key, message),) = setup.published
    assert routing_key == "svc.ping.retry.1"
    assert message.headers[ATTEMPT] == 1
    assert raw.outcome == ["ack"]
