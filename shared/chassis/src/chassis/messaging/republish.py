"""Republishing a delivery's copy through FastStream's publisher, confirmed by the broker.

Retries and parking (the worker) and replays (``folio-parked``) all send to ``<service>.internal`` with a
routing key naming the queue, ``mandatory``, on a channel with publisher confirms: anything but the
broker's ack (a nack, or the message returned as unroutable) is :class:`PublishNotConfirmed`, and the
delivery it copies is not acked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aio_pika
from aiormq.abc import ConfirmationFrameType
from faststream.rabbit import RabbitBroker
from pamqp.commands import Basic

from chassis.messaging.topology import internal_exchange

# Publishes a message to the service's internal exchange with a routing key and waits for the confirm.
Republish = Callable[[aio_pika.Message, str], Awaitable[ConfirmationFrameType | None]]


class PublishNotConfirmed(RuntimeError):
    """The broker did not confirm a republish (nacked or returned it)."""


def ensure_confirmed(confirmation: object) -> None:
    # A returned message comes back in place of the Basic.Ack when the channel does not raise on returns.
    if not isinstance(confirmation, Basic.Ack):
        raise PublishNotConfirmed(f"broker answered {confirmation!r}")


def republisher(broker: RabbitBroker, service: str) -> Republish:
    """Confirmed publishes to ``service``'s internal exchange through ``broker`` (its channel confirms)."""
    internal = internal_exchange(service)

    async def republish(message: aio_pika.Message, routing_key: str) -> ConfirmationFrameType | None:
        confirmation = await broker.publish(
            message, exchange=internal, routing_key=routing_key, mandatory=True
        )
        ensure_confirmed(confirmation)
        return confirmation

    return republish
