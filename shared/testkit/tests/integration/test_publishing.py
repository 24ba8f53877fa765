"""What the kit publishes is what a producer's relay would: the outbox's envelope and the relay's message."""

from __future__ import annotations

import aio_pika
import pytest

from contracts.catalog import BookCreated
from contracts.envelope import CONTENT_TYPE, Envelope
from contracts.examples import example
from testkit.publishing import producer_envelope, publish_contract_message
from testkit.quiescence import queue_depth

pytestmark = pytest.mark.integration


async def test_a_contract_message_arrives_with_the_producers_envelope_and_the_relays_properties(
    amqp_url: str,
) -> None:
    message = example(BookCreated)
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            BookCreated.exchange(), aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue("kit.observer", durable=True)
        await queue.bind(exchange, BookCreated.routing_key())

        sent = await publish_contract_message(connection, message)
        assert await queue_depth(amqp_url, "kit.observer") == 1

        received = await queue.get(timeout=5)
        assert received is not None
        await received.ack()
    finally:
        await connection.close()

    assert sent == producer_envelope(message, id=sent.id, time=sent.time)
    assert (sent.source, sent.subject, sent.correlation_id) == (
        "/folio/catalog",
        str(message.book_id),
        sent.subject,
    )
    assert Envelope.from_headers(dict(received.headers)) == sent
    assert received.body == message.to_json()
    assert received.message_id == str(sent.id)
    assert (received.type, received.content_type) == (BookCreated.TYPE, CONTENT_TYPE)
    assert received.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert received.correlation_id == sent.correlation_id
