"""A queue of a test's own, bound to every routing key of an exchange, that remembers what arrives."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage

from testkit.polling import eventually

# The header of the markers ``caught_up`` publishes; every BoundQueue leaves them out of what it received.
MARKER_HEADER = "x-testkit-caught-up"
MARKER_ROUTING_KEY = "testkit.caught-up"


class BoundQueue:
    """An exclusive queue bound with ``#`` to ``exchange`` (a topic exchange, declared if need be).

    Leaving the ``async with`` block normally first waits until it has caught up (see ``caught_up``), so
    ``received`` then holds everything the broker routed to it while it was open: a relay stopped inside the
    block (listed after it in the same ``async with``) has had each of its publishes routed, duplicates too.
    """

    def __init__(self, amqp_url: str, exchange: str) -> None:
        self.amqp_url = amqp_url
        self.exchange = exchange
        self.received: list[AbstractIncomingMessage] = []
        self._markers: dict[str, asyncio.Event] = {}

    @property
    def ids(self) -> list[str]:
        return [str(message.message_id) for message in self.received]

    async def __aenter__(self) -> BoundQueue:
        self.connection = await aio_pika.connect(self.amqp_url)
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=2000)
        self._exchange: AbstractExchange = await channel.declare_exchange(
            self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(self._exchange, "#")
        await queue.consume(self._on_message, no_ack=True)
        return self

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        marker = (message.headers or {}).get(MARKER_HEADER)
        if marker is None:
            self.received.append(message)
        elif (reached := self._markers.get(str(marker))) is not None:
            reached.set()  # ours; another BoundQueue's on the same exchange is ignored

    async def __aexit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        try:
            if exc_type is None:
                await self.caught_up()
        finally:
            await self.connection.close()

    async def caught_up(self, within: float = 20.0) -> None:
        """Return once every message the broker routed to this queue before the call has arrived.

        A marker is published (confirmed) to the exchange now and awaited: one queue delivers in order, so
        whatever was in it before the marker has arrived when the marker does. What a publisher has yet to
        send is not covered: stop it, or wait for it to be drained, first.
        """
        marker = uuid4().hex
        reached = self._markers[marker] = asyncio.Event()
        try:
            message = aio_pika.Message(b"", headers={MARKER_HEADER: marker}, message_id=marker)
            await self._exchange.publish(message, routing_key=MARKER_ROUTING_KEY)
            await asyncio.wait_for(reached.wait(), within)
        finally:
            del self._markers[marker]

    async def wait_for(self, count: int, within: float = 20.0) -> None:
        """Wait until ``count`` messages have arrived, and then until the queue has caught up: a duplicate
        already routed right behind them is in ``received`` on return, however slowly it is delivered."""

        async def arrived() -> None:
            assert len(self.received) >= count, f"{self.exchange}: received {len(self.received)} of {count}"

        await eventually(arrived, within=within)
        await self.caught_up(within)
