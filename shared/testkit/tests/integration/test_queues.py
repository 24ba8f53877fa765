"""A bound queue has caught up when it returns: what was routed to it before is in ``received``."""

from __future__ import annotations

import aio_pika
import pytest

from testkit.queues import BoundQueue
from testkit.resources import unique_name

pytestmark = pytest.mark.integration


async def publish(amqp_url: str, exchange_name: str, *ids: str) -> None:
    """Publish one empty message per id, each confirmed (so routed) before the next."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(exchange_name)
        for message_id in ids:
            await exchange.publish(aio_pika.Message(b"", message_id=message_id), routing_key="test.any")
    finally:
        await connection.close()


async def test_waiting_for_one_message_returns_with_the_one_routed_right_behind_it(amqp_url: str) -> None:
    exchange = unique_name("test.queues")
    async with BoundQueue(amqp_url, exchange) as queue:
        await publish(amqp_url, exchange, "first", "right-behind")
        await queue.wait_for(1)

        assert queue.ids == ["first", "right-behind"]


async def test_markers_are_never_received_by_any_bound_queue_of_the_exchange(amqp_url: str) -> None:
    exchange = unique_name("test.queues")
    async with BoundQueue(amqp_url, exchange) as one, BoundQueue(amqp_url, exchange) as two:
        await publish(amqp_url, exchange, "only")
        await one.wait_for(1)
        await two.wait_for(1)
        await one.caught_up()

    assert one.ids == two.ids == ["only"]
