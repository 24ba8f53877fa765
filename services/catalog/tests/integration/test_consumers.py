"""The worker's consumers on real RabbitMQ: commands and events in, answers in the outbox and on the bus."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import aio_pika
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from catalog.application import queries
from catalog.entrypoints.consumers import subscriptions
from chassis.messaging.consumer import RetryPolicy
from chassis.messaging.parked import list_parked
from chassis.messaging.worker import ServiceBroker, build_broker
from chassis.outbox import OutboxRelay
from contracts.base import Message
from contracts.catalog import OrderLine, ReleaseStock, ReserveStock
from contracts.envelope import Envelope
from contracts.rating import FeedbackDeleted, FeedbackSubmitted
from testkit.polling import eventually
from testkit.publishing import producer_envelope, publish_contract_message, publish_raw
from testkit.quiescence import FinishedDeliveries

pytestmark = pytest.mark.integration


class Bus:
    def __init__(self, connection: aio_pika.abc.AbstractConnection) -> None:
        self.connection = connection

    async def publish(
        self,
        message: Message | None = None,
        *,
        envelope: Envelope | None = None,
        body: bytes | None = None,
        type_: str | None = None,
        exchange: str | None = None,
    ) -> Envelope:
        """Publish ``message`` (or a raw ``body`` of ``type_``) as its producer would, with ``envelope``."""
        if message is not None:
            envelope = envelope or producer_envelope(message, source="/test", correlation_id=str(uuid4()))
            return await publish_contract_message(self.connection, message, envelope=envelope, body=body)
        assert type_ is not None
        assert body is not None
        envelope = envelope or Envelope(type=type_, source="/test", correlation_id=str(uuid4()))
        await publish_raw(
            self.connection,
            exchange=exchange or "catalog.commands",
            routing_key=type_,
            body=body,
            headers=envelope.to_headers(),
            message_id=envelope.id,
        )
        return envelope


@pytest.fixture
async def bus(amqp_url: str) -> AsyncIterator[Bus]:
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    # Rating owns its exchange (the bootstrap declares it); the catalog's worker only binds to it.
    await channel.declare_exchange("rating.events", aio_pika.ExchangeType.TOPIC, durable=True)
    await channel.close()
    yield Bus(connection)
    await connection.close()


@pytest.fixture
async def worker(amqp_url: str, uow_factory: Any, bus: Bus) -> AsyncIterator[ServiceBroker]:
    broker = build_broker(
        service="catalog",
        amqp_url=amqp_url,
        subscriptions=subscriptions(),
        uow_factory=uow_factory,
        retry=RetryPolicy((0.1, 0.2)),
        prefetch=10,
        graceful_timeout=2.0,
    )
    await broker.start()
    yield broker
    await broker.stop()


def reserve(order_id: UUID, *lines: tuple[UUID, int]) -> ReserveStock:
    return ReserveStock(order_id=order_id, lines=[OrderLine(book_id=b, quantity=q) for b, q in lines])


async def test_reserve_and_release_stock_commands_are_answered_through_the_outbox(
    worker: Any, bus: Bus, seed: Any, outbox_messages: Any, uow_factory: Any
) -> None:
    book = await seed.book(stock=4, price="7.25")
    order = uuid4()
    sent = await bus.publish(reserve(order, (book, 3)))

    async def reserved() -> dict[str, Any]:
        answers: list[dict[str, Any]] = await outbox_messages.messages("stock-reserved")
        assert len(answers) == 1
        return answers[0]

    answer = await eventually(reserved)
    assert answer["total"] == {"amount": "21.75", "currency": "EUR"}
    # The answer carries the workflow's correlation and names the command that caused it.
    assert answer["_headers"]["correlation_id"] == sent.correlation_id
    assert answer["_headers"]["causation_id"] == str(sent.id)

    await bus.publish(ReleaseStock(order_id=order, reason="customer cancelled"))

    async def released() -> None:
        answers = await outbox_messages.messages("stock-released")
        assert [answer["released"] for answer in answers] == [True]

    await eventually(released)
    async with uow_factory() as uow:
        assert (await queries.book_detail(book, uow)).stock == 4


async def test_fifty_orders_through_the_bus_for_ten_copies_reserve_exactly_ten(
    worker: Any, bus: Bus, seed: Any, outbox_messages: Any, uow_factory: Any
) -> None:
    book = await seed.book(stock=10)
    await asyncio.gather(*(bus.publish(reserve(uuid4(), (book, 1))) for _ in range(50)))

    async def all_answered() -> None:
        reserved = await outbox_messages.messages("stock-reserved")
        rejected = await outbox_messages.messages("stock-reservation-rejected")
        assert (len(reserved), len(rejected)) == (10, 40)

    await eventually(all_answered, within=30)
    async with uow_factory() as uow:
        assert (await queries.book_detail(book, uow)).stock == 0


async def test_each_consumer_handles_a_redelivered_message_once(
    worker: Any, bus: Bus, seed: Any, outbox_messages: Any, uow_factory: Any
) -> None:
    book = await seed.book(stock=10)
    order = uuid4()
    reserve_envelope = Envelope(type=ReserveStock.TYPE, source="/ordering", correlation_id=str(order))
    release_envelope = Envelope(type=ReleaseStock.TYPE, source="/ordering", correlation_id=str(order))
    feedback = FeedbackSubmitted(
        feedback_id=uuid4(),
        book_id=book,
        customer_id="ann",
        stars=4,
        comment=None,
        verified_purchase=False,
        version=1,
        submitted_at=datetime.now(UTC),
    )
    feedback_envelope = Envelope(type=FeedbackSubmitted.TYPE, source="/rating")
    deliveries = FinishedDeliveries()
    for _ in range(2):
        await bus.publish(reserve(order, (book, 2)), envelope=reserve_envelope)
    for _ in range(2):
        await bus.publish(feedback, envelope=feedback_envelope)

    async def reserved_and_rated() -> None:
        assert len(await outbox_messages.messages("stock-reserved")) == 1
        async with uow_factory() as uow:
            assert (await queries.book_detail(book, uow)).rating_count == 1

    await eventually(reserved_and_rated)
    for _ in range(2):
        await bus.publish(ReleaseStock(order_id=order, reason="cancel"), envelope=release_envelope)

    async def released_once() -> None:
        assert len(await outbox_messages.messages("stock-released")) == 1

    await eventually(released_once)
    # Every copy finished with (a duplicate leaves no inbox row of its own): only now is an absence one.
    await eventually(lambda: deliveries.at_least(6), what="the six deliveries finished")
    assert len(await outbox_messages.messages("stock-released")) == 1
    assert len(await outbox_messages.messages("stock-reserved")) == 1
    async with uow_factory() as uow:
        book_view = await queries.book_detail(book, uow)
    assert (book_view.stock, book_view.rating_count) == (10, 1)


async def test_a_malformed_message_is_parked_and_the_consumer_goes_on(
    worker: Any, bus: Bus, amqp_url: str, seed: Any, outbox_messages: Any
) -> None:
    book = await seed.book(stock=1)
    bad_lines = json.dumps({"order_id": str(uuid4()), "lines": [{"book_id": str(book), "quantity": 0}]})
    parked_ids = {
        str((await bus.publish(body=b"{not json", type_=ReserveStock.TYPE)).id),
        str((await bus.publish(body=bad_lines.encode(), type_=ReserveStock.TYPE)).id),
    }
    await bus.publish(reserve(uuid4(), (book, 1)))

    async def answered() -> None:
        assert len(await outbox_messages.messages("stock-reserved")) == 1

    await eventually(answered)

    async def parked() -> None:
        found = await list_parked(amqp_url, "catalog.reserve_stock")
        assert {message.id for message in found} == parked_ids

    await eventually(parked)


async def test_a_burst_of_feedback_events_out_of_order_and_repeated_converges(
    worker: Any, bus: Bus, seed: Any, uow_factory: Any
) -> None:
    book = await seed.book()
    rng = random.Random(11)
    now = datetime.now(UTC)
    events: list[tuple[Message, Envelope]] = []
    latest: dict[str, int | None] = {}
    for n in range(8):
        customer = f"customer-{n}"
        feedback_id = uuid4()
        for version in range(1, rng.randint(2, 5)):
            message: Message
            if version > 1 and rng.random() < 0.3:
                message = FeedbackDeleted(
                    feedback_id=feedback_id,
                    book_id=book,
                    customer_id=customer,
                    version=version,
                    deleted_at=now,
                )
                latest[customer] = None
            else:
                stars = rng.randint(1, 5)
                message = FeedbackSubmitted(
                    feedback_id=feedback_id,
                    book_id=book,
                    customer_id=customer,
                    stars=stars,
                    comment="fine",
                    verified_purchase=False,
                    version=version,
                    submitted_at=now,
                )
                latest[customer] = stars
            events.append((message, Envelope(type=message.TYPE, source="/rating")))
    # Redelivered as they were (same id) and re-sent (new id): both must be harmless.
    deliveries = events + rng.sample(events, k=len(events) // 2)
    deliveries += [(m, Envelope(type=m.TYPE, source="/rating")) for m, _ in rng.sample(events, k=5)]
    rng.shuffle(deliveries)
    for message, envelope in deliveries:
        await bus.publish(message, envelope=envelope)

    counted = [stars for stars in latest.values() if stars is not None]
    expected = (round(Decimal(sum(counted)) / len(counted), 2) if counted else None, len(counted))

    async def converged() -> None:
        async with uow_factory() as uow:
            view = await queries.book_detail(book, uow)
        assert (view.average_rating, view.rating_count) == expected

    await eventually(converged)


async def test_answers_reach_the_catalog_events_exchange_through_the_relay(
    worker: Any, bus: Bus, engine: AsyncEngine, amqp_url: str, seed: Any, outbox_messages: Any
) -> None:
    channel = await bus.connection.channel()
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind("catalog.events", routing_key="folio.catalog.#")
    book = await seed.book(stock=1)
    order = uuid4()
    await bus.publish(reserve(order, (book, 5)))

    async def rejected() -> None:
        assert len(await outbox_messages.messages("stock-reservation-rejected")) == 1

    await eventually(rejected)
    async with OutboxRelay(engine, amqp_url) as relay:
        assert await relay.publish_pending() == 2

    received = []
    async with queue.iterator(timeout=10) as messages:
        async for message in messages:
            async with message.process():
                received.append((message.headers["cloudEvents_type"], json.loads(message.body)))
            if len(received) == 2:
                break
    assert [kind for kind, _ in received] == [
        "folio.catalog.book-created.v1",
        "folio.catalog.stock-reservation-rejected.v1",
    ]
    assert received[1][1]["reasons"][0] == {
        "book_id": str(book),
        "reason": "out_of_stock",
        "requested": 5,
        "available": 1,
    }
    await channel.close()
