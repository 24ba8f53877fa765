"""Exchange and queue names and declarations: what a service owns on the broker, all under ``<service>.``.

Per service: a topic exchange ``<service>.events``, a direct exchange ``<service>.commands`` when it takes
commands, and a direct exchange ``<service>.internal`` through which retries, parking and replays travel.
Every consumer queue ``<service>.<handler>`` comes with one delay queue per retry attempt
(``<queue>.retry.<n>``) and a parking queue (``<queue>.dlq``). Nothing is ever published through the default
exchange: that would need write permission on ``amq.default``, which no service user has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.schemas.queue import QuorumQueueArgs

from contracts import routing
from contracts.base import Message
from contracts.routing import ExchangeKind

# Safety net for a consumer that crashes before it acks (the normal failure path acks and republishes):
# after this many deliveries the broker dead-letters the message to the parking queue.
DEFAULT_DELIVERY_LIMIT = 20
# Listing parked messages requeues them, which counts as a delivery on a quorum queue; RabbitMQ 4 would
# drop a parked message after 20 listings by default, so the parking queue gets a limit never reached.
PARKING_DELIVERY_LIMIT = 1_000_000


def _exchange(name: str, kind: ExchangeKind) -> RabbitExchange:
    return RabbitExchange(name, type=ExchangeType(kind), durable=True)


def events_exchange(service: str) -> RabbitExchange:
    return _exchange(routing.events_exchange(service), "topic")


def commands_exchange(service: str) -> RabbitExchange:
    return _exchange(routing.commands_exchange(service), "direct")


def internal_exchange(service: str) -> RabbitExchange:
    return _exchange(f"{service}.internal", "direct")


def message_exchange(message: type[Message]) -> RabbitExchange:
    """The exchange ``contracts.routing.address`` gives ``message``, as FastStream declares it."""
    where = routing.address(message)
    return _exchange(where.exchange, where.exchange_type)


def queue_name(service: str, handler: str) -> str:
    return f"{service}.{handler}"


def retry_queue_name(queue: str, attempt: int) -> str:
    return f"{queue}.retry.{attempt}"


def parking_queue_name(queue: str) -> str:
    return f"{queue}.dlq"


def service_of(queue: str) -> str:
    """``catalog.reserve_stock`` (or its ``.dlq``) -> ``catalog``."""
    return queue.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class Binding:
    queue: str
    exchange: RabbitExchange
    routing_key: str


@dataclass(frozen=True, slots=True)
class ConsumerQueues:
    """One consumer's queue with its delay queues and parking queue, and how they are bound."""

    service: str
    main: RabbitQueue
    retries: tuple[RabbitQueue, ...]
    parking: RabbitQueue
    bindings: tuple[Binding, ...]

    @property
    def name(self) -> str:
        return self.main.name

    @property
    def internal(self) -> RabbitExchange:
        return internal_exchange(self.service)

    def queues(self) -> tuple[RabbitQueue, ...]:
        return (self.main, *self.retries, self.parking)


def _quorum(name: str, arguments: dict[str, Any]) -> RabbitQueue:
    # At-least-once dead-lettering: a quorum queue keeps a dead-lettered message until the target queue
    # confirms it, so a retry or a parking never loses a message. It requires overflow reject-publish.
    quorum_arguments = cast(
        "QuorumQueueArgs",
        {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish", **arguments},
    )
    return RabbitQueue(name, queue_type=QueueType.QUORUM, durable=True, arguments=quorum_arguments)


def consumer_queues(
    service: str,
    handler: str,
    messages: Iterable[type[Message]],
    *,
    delays: Sequence[float],
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
    extra_types: Iterable[tuple[RabbitExchange, str]] = (),
) -> ConsumerQueues:
    """Queues and bindings for the consumer ``<service>.<handler>`` of ``messages``.

    ``delays`` are the retry delays in seconds, one delay queue per attempt. ``extra_types`` adds
    (exchange, routing key) bindings, e.g. for older versions an upcaster turns into a subscribed one.
    """
    internal = internal_exchange(service)
    name = queue_name(service, handler)
    parking_name = parking_queue_name(name)
    main = _quorum(
        name,
        {
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": internal.name,
            "x-dead-letter-routing-key": parking_name,
        },
    )
    retries = tuple(
        _quorum(
            retry_queue_name(name, attempt),
            {
                "x-message-ttl": max(1, round(delay * 1000)),
                "x-dead-letter-exchange": internal.name,
                "x-dead-letter-routing-key": name,
            },
        )
        for attempt, delay in enumerate(delays, start=1)
    )
    parking = _quorum(parking_name, {"x-delivery-limit": PARKING_DELIVERY_LIMIT})
    by_type = {
        (message_exchange(m).name, routing.address(m).routing_key): message_exchange(m) for m in messages
    }
    by_type.update({(exchange.name, key): exchange for exchange, key in extra_types})
    bindings = [Binding(name, exchange, key) for (_, key), exchange in sorted(by_type.items())]
    bindings.append(Binding(name, internal, name))
    bindings.extend(Binding(q.name, internal, q.name) for q in (*retries, parking))
    return ConsumerQueues(service, main, retries, parking, tuple(bindings))


@dataclass(frozen=True, slots=True)
class ServiceTopology:
    """Everything one service declares: its own exchanges and its consumers' queues."""

    service: str
    takes_commands: bool
    consumers: tuple[ConsumerQueues, ...]

    def own_exchanges(self) -> tuple[RabbitExchange, ...]:
        exchanges = [events_exchange(self.service), internal_exchange(self.service)]
        if self.takes_commands:
            exchanges.append(commands_exchange(self.service))
        return tuple(exchanges)

    def foreign_exchanges(self) -> tuple[RabbitExchange, ...]:
        own = {e.name for e in self.own_exchanges()}
        found = {b.exchange.name: b.exchange for c in self.consumers for b in c.bindings}
        return tuple(e for name, e in sorted(found.items()) if name not in own)


async def declare(broker: RabbitBroker, topology: ServiceTopology) -> None:
    """Declare the service's exchanges, queues and bindings on a connected broker; safe to repeat.

    Exchanges of other services are only checked (passive declare): their owner, or the bootstrap,
    declares them, and a service's broker user may configure only names under its own prefix.
    """
    exchanges = {e.name: await broker.declare_exchange(e) for e in topology.own_exchanges()}
    for foreign in topology.foreign_exchanges():
        exchanges[foreign.name] = await broker.config.declarer.declare_exchange(foreign, declare=False)
    for consumer in topology.consumers:
        queues = {q.name: await broker.declare_queue(q) for q in consumer.queues()}
        for binding in consumer.bindings:
            await queues[binding.queue].bind(
                exchanges[binding.exchange.name], routing_key=binding.routing_key
            )
