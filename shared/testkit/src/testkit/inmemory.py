"""Fast consumer tests: a service's real worker broker under FastStream's ``TestRabbitBroker``, no servers.

``TestRabbitBroker`` runs a delivery through the real subscribers, parsers, decoders and middlewares, in
memory. Two things it does not do, which the worker relies on, are stood in for here: it answers a publish
with no publisher confirm (``None``, which the worker takes for a refusal), so every in-memory publish is
answered with a ``Basic.Ack``; and it refuses a publish no subscriber takes, so each retry and parking
queue of the worker gets a recorder. The unit of work is a fake whose inbox claim answers ``claimed``.
These tests stand beside the real-broker integration tests, which cover the broker and the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast
from unittest import mock

from faststream.rabbit import RabbitBroker, RabbitQueue, TestRabbitBroker
from faststream.rabbit.annotations import RabbitMessage
from faststream.rabbit.testing import FakeProducer
from pamqp.commands import Basic
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chassis.messaging.consumer import ERROR_TYPE, RetryPolicy, Subscription
from chassis.messaging.topology import internal_exchange, parking_queue_name, queue_name, retry_queue_name
from chassis.messaging.worker import build_broker
from chassis.uow import UnitOfWork
from contracts.base import Message
from contracts.envelope import Envelope
from contracts.examples import every_message


class FakeResult:
    def __init__(self, claimed: bool) -> None:
        self.claimed = claimed

    def first(self) -> object | None:
        return (1,) if self.claimed else None


class FakeSession:
    """Answers the inbox claim (``claimed``, or a duplicate) and notes the commit."""

    def __init__(self, claimed: bool) -> None:
        self.claimed = claimed
        self.committed = False

    async def execute(self, *args: Any, **kwargs: Any) -> FakeResult:
        return FakeResult(self.claimed)

    def in_transaction(self) -> bool:
        return not self.committed


class FakeUnitOfWork(UnitOfWork):
    def __init__(self, session: FakeSession) -> None:
        super().__init__(cast("async_sessionmaker[AsyncSession]", None), source="/test")
        self.fake = session

    async def __aenter__(self) -> FakeUnitOfWork:
        self.session = cast("AsyncSession", self.fake)
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def commit(self) -> None:
        self.fake.committed = True


@dataclass
class InMemoryWorker:
    service: str
    broker: RabbitBroker
    # What reached each retry and parking queue, by queue name.
    republished: dict[str, list[RabbitMessage]] = field(default_factory=dict)
    sessions: list[FakeSession] = field(default_factory=list)

    async def publish(
        self, handler: str, body: bytes | Message, *, envelope: Envelope | None = None, **headers: Any
    ) -> Envelope:
        """Deliver ``body`` (a message, or bytes) to the queue of ``handler`` with an envelope's headers.

        The envelope is by default one of the message's own type; ``headers`` are added to (or replace) it.
        """
        if envelope is None:
            assert isinstance(body, Message), "give the envelope of a body that is not a message"
            envelope = Envelope(type=body.TYPE, source="/test", subject=body.subject_value())
        payload = body.to_json() if isinstance(body, Message) else body
        await self.broker.publish(
            payload,
            queue=queue_name(self.service, handler),
            headers={**envelope.to_headers(), **headers},
            content_type="application/json",
        )
        return envelope

    def parked(self, handler: str) -> list[RabbitMessage]:
        return self.republished[parking_queue_name(queue_name(self.service, handler))]

    def retried(self, handler: str, attempt: int) -> list[RabbitMessage]:
        return self.republished[retry_queue_name(queue_name(self.service, handler), attempt)]


@asynccontextmanager
async def in_memory_worker(
    service: str,
    subscriptions: Sequence[Subscription[Any]],
    *,
    claimed: bool = True,
    retry: RetryPolicy | None = None,
) -> AsyncIterator[InMemoryWorker]:
    """``build_broker`` of ``service`` with ``subscriptions``, started under ``TestRabbitBroker``."""
    retry = retry or RetryPolicy()
    sessions: list[FakeSession] = []

    def uow() -> FakeUnitOfWork:
        sessions.append(FakeSession(claimed))
        return FakeUnitOfWork(sessions[-1])

    broker = build_broker(
        service=service,
        amqp_url="amqp://in-memory/",
        subscriptions=subscriptions,
        uow_factory=uow,
        retry=retry,
    )
    republished: dict[str, list[RabbitMessage]] = {}
    for subscription in subscriptions:
        queue = queue_name(service, subscription.handler)
        names = [retry_queue_name(queue, n) for n in range(1, len(retry.delays) + 1)]
        for name in [*names, parking_queue_name(queue)]:
            received = republished[name] = []
            # The delivery itself (a parked body need not be JSON): the service broker injects nothing.
            recorder = broker.subscriber(
                RabbitQueue(name, routing_key=name), internal_exchange(service), decoder=_delivery
            )
            recorder(_recorder(received))

    original = FakeProducer.publish

    async def confirmed(self: FakeProducer, cmd: Any) -> Basic.Ack:
        await original(self, cmd)
        return Basic.Ack()

    with mock.patch.object(FakeProducer, "publish", confirmed):
        async with TestRabbitBroker(broker) as testing:
            yield InMemoryWorker(service, testing, republished, sessions)


async def _delivery(message: Any, original: Any) -> RabbitMessage:
    delivery: RabbitMessage = message
    return delivery


def _recorder(received: list[RabbitMessage]) -> Any:
    async def record(message: RabbitMessage) -> None:
        received.append(message)

    return record


@dataclass
class ExampleRun:
    """What became of one example of each subscribed message, and of one message each queue does not take."""

    # (handler, message) as each handler was called, in the order sent.
    handled: list[tuple[str, Message]]
    sent: list[tuple[str, Message]]
    # handler -> the error types its parking queue received.
    parked: dict[str, list[str]]


async def deliver_examples(service: str, subscriptions: Sequence[Subscription[Any]]) -> ExampleRun:
    """Each subscription's messages (``contracts.examples``) to its queue, then one it does not take.

    The handlers are replaced by recorders: this checks the subscribers' typing, not the handlers.
    """
    handled: list[tuple[str, Message]] = []

    def recording(subscription: Subscription[Any]) -> Subscription[Any]:
        async def record(message: Message, uow: Any) -> None:
            handled.append((subscription.handler, message))

        return Subscription(subscription.handler, subscription.messages, record)

    sent: list[tuple[str, Message]] = []
    async with in_memory_worker(service, [recording(s) for s in subscriptions]) as worker:
        for subscription in subscriptions:
            taken = tuple(subscription.messages)
            for message in every_message():
                if type(message) in taken:
                    sent.append((subscription.handler, message))
                    await worker.publish(subscription.handler, message)
            stranger = next(m for m in every_message() if type(m) not in taken)
            await worker.publish(subscription.handler, stranger)
        parked = {
            s.handler: [str(m.headers.get(ERROR_TYPE)) for m in worker.parked(s.handler)]
            for s in subscriptions
        }
    return ExampleRun(handled, sent, parked)
