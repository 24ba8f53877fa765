"""What a worker sends, as FastStream publishers on its broker: so its AsyncAPI document comes from the app.

The outbox relay publishes every message, on a connection of its own (``chassis.outbox``); these
publishers only describe them, each at the exchange and routing key ``contracts.routing.address`` gives.
They are never started: FastStream's publisher declares its exchange when it starts, and a service may
not declare another's exchange (its commands go to the owner's ``<owner>.commands``), while the topology
is declared by ``chassis.messaging.topology`` alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from faststream.rabbit import RabbitBroker
from faststream.rabbit.publisher import RabbitPublisher

from chassis.messaging.topology import message_exchange
from contracts import routing
from contracts.base import Message


def send_publishers(
    broker: RabbitBroker, service: str, publishes: Iterable[type[Message]]
) -> tuple[RabbitPublisher, ...]:
    """One publisher per message type ``service`` sends, typed with its contract model."""
    return tuple(
        broker.publisher(
            exchange=message_exchange(model),
            routing_key=routing.address(model).routing_key,
            schema=model,
            title=model.TYPE,
            description=f"{service} sends {model.TYPE} ({model.KIND}): {model.__doc__}",
            persist=True,
        )
        for model in publishes
    )


def receive_description(queue: str, messages: Iterable[type[Message]]) -> str:
    """What the subscriber of ``queue`` takes, with where each type is bound from."""
    bound = ", ".join(f"{m.TYPE} from `{routing.address(m).exchange}`" for m in messages)
    return f"{queue} receives {bound}. Each delivery is acked once handled, retried or parked."
