"""A queue of a test's own, bound to every routing key of an exchange, that remembers what arrives."""

from __future__ import annotations

import asyncio

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from testkit.polling import eventually


class BoundQueue:
    """An exclusive queue bound with ``#`` to ``exchange`` (a topic exchange, declared if need be)."""

    def __init__(self, amqp_url: str, exchange: str) -> None:
        self.amqp_url = amqp_url
        self.exchange = exchange
        self.received: list[AbstractIncomingMessage] = []

    @property
    def ids(self) -> list[str]:
        return [str(message.message_id) for message in self.received]

    async def __aenter__(self) -> BoundQueue:
        self.connection = await aio_pika.connect(self.amqp_url)
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=2000)
        exchange = await channel.declare_exchange(self.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, "#")
        await queue.consume(self._on_message, no_ack=True)
        return self

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self.received.append(message)

    async def __aexit__(self, *_exc: object) -> None:
        await self.connection.close()

    async def wait_for(self, count: int, within: float = 20.0) -> None:
        """Wait until ``count`` messages have arrived, then a moment for a duplicate right behind."""

        async def arrived() -> None:
            assert len(self.received) >= count, f"{self.exchange}: received {len(self.received)} of {count}"

        await eventually(arrived, within=within)
        await asyncio.sleep(0.3)
