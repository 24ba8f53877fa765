"""A service's FastStream broker: its topology declared on start, one consumer per subscription.

Each subscription's queue has a typed FastStream subscriber: its handler takes the contract model (the
union of the subscription's messages) and the unit of work, and calls the subscription's ``handle``. The
subscriber's parser and decoder read the envelope and the model (``chassis.messaging.codec``), which is the
one validation of a delivery: the broker does not apply fast_depends to its handlers, whose annotation only
documents the queue in the AsyncAPI document (a second validation against the union ran each model's
checks again, for every delivery, to no effect). The broker's
delivery middleware (``chassis.messaging.middleware``) wraps every handler in its queue's ``Consumer``,
which acks only once the message is handled, retried or parked (``AckPolicy.MANUAL``). All consumers share
one :class:`Recovery` of the database, and each can pause its queue's intake. What the service sends is on
the broker too, as publishers that are never started (``chassis.messaging.sends``): the AsyncAPI document
is FastStream's rendering of this broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, Union

from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitBroker
from faststream.rabbit.publisher import RabbitPublisher
from faststream.rabbit.subscriber import RabbitSubscriber

from chassis import defaults
from chassis.messaging.consumer import (
    DEFAULT_HOLD_LIMIT,
    Consumer,
    RetryPolicy,
    Subscription,
    database_probe,
)
from chassis.messaging.middleware import DeliveryMiddlewares, current_uow
from chassis.messaging.recovery import Recovery
from chassis.messaging.republish import republisher
from chassis.messaging.sends import receive_description, send_publishers
from chassis.messaging.topology import (
    DEFAULT_DELIVERY_LIMIT,
    ServiceTopology,
    consumer_queues,
    declare,
)
from chassis.uow import UnitOfWork
from contracts.base import Message
from contracts.upcasting import UPCASTERS, Upcasters

U = TypeVar("U", bound=UnitOfWork)

log = logging.getLogger(__name__)


class ServiceBroker(RabbitBroker):
    """A RabbitBroker that declares its service's topology when it starts, before its consumers subscribe."""

    def __init__(
        self, url: str, *, topology: ServiceTopology, recovery: Recovery | None = None, **kwargs: Any
    ) -> None:
        super().__init__(url, **kwargs)
        self.topology = topology
        self.recovery = recovery
        self.sends: tuple[RabbitPublisher, ...] = ()

    async def start(self) -> None:
        await self.connect()
        await declare(self, self.topology)
        # FastStream starts every registered publisher, which declares its exchange: the sends only
        # document (the relay publishes), so they are out of the registry while it starts.
        for send in self.sends:
            self._publishers.discard(send)
        try:
            await super().start()
        finally:
            self._publishers.update(self.sends)

    async def stop(self, *args: Any, **kwargs: Any) -> None:
        if self.recovery is not None:
            await self.recovery.close()
        await super().stop(*args, **kwargs)


class SubscriberIntake:
    """Pauses and resumes one FastStream subscriber's deliveries (basic.cancel, basic.consume).

    FastStream has no pause of its own; its subscriber's queue object and consumer tag are used directly,
    consuming again with the subscriber's own callback, exactly as its ``start`` does.
    """

    def __init__(self, subscriber: RabbitSubscriber) -> None:
        self._subscriber = subscriber
        self._lock = asyncio.Lock()
        self._paused = False

    async def pause(self) -> None:
        async with self._lock:
            subscriber = self._subscriber
            queue, tag = subscriber._queue_obj, subscriber._consumer_tag
            if self._paused or queue is None or tag is None:
                return
            await queue.cancel(tag)
            subscriber._consumer_tag = None
            self._paused = True
            log.warning("paused consuming %s", queue.name)

    async def resume(self) -> None:
        async with self._lock:
            subscriber = self._subscriber
            queue = subscriber._queue_obj
            if not self._paused or queue is None or not subscriber.running:
                return
            subscriber._consumer_tag = await queue.consume(
                subscriber.consume,  # type: ignore[arg-type]
                no_ack=False,
                arguments=subscriber.consume_args,
            )
            self._paused = False
            log.info("resumed consuming %s", queue.name)


def typed_handler(queue: str, subscription: Subscription[Any]) -> Callable[..., Awaitable[None]]:
    """The FastStream handler of ``subscription``: the contract model in, the delivery's unit of work from
    :func:`current_uow`.

    Its annotation is what the AsyncAPI document shows; the codec has validated the model it is given.
    """

    async def handler(message: Any) -> None:
        await subscription.handle(message, current_uow())

    handler.__name__ = f"consume_{queue.replace('.', '_')}"
    handler.__doc__ = f"{queue}: {', '.join(m.TYPE for m in subscription.messages)}"
    handler.__annotations__ = {
        "message": Union[subscription.messages],  # noqa: UP007 (a tuple of types, built at run time)
        "return": None,
    }
    return handler


def takes_commands(service: str, subscriptions: Sequence[Subscription[Any]]) -> bool:
    return any(m.KIND == "command" and service == m.OWNER for s in subscriptions for m in s.messages)


def build_broker(
    *,
    service: str,
    amqp_url: str,
    subscriptions: Sequence[Subscription[U]],
    uow_factory: Callable[[], U],
    retry: RetryPolicy | None = None,
    prefetch: int = defaults.CONSUMER_PREFETCH,
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
    upcasters: Upcasters | None = None,
    hold_limit: float = DEFAULT_HOLD_LIMIT,
    recovery: Recovery | None = None,
    publishes: Sequence[type[Message]] = (),
    **broker_options: Any,
) -> ServiceBroker:
    """The worker's broker: declares ``service``'s topology on start and consumes every subscription.

    ``prefetch`` bounds the deliveries one queue handles concurrently. ``hold_limit`` is how long a
    delivery is held while the database is unreachable before its queue's intake pauses and it is given
    back; ``recovery`` (a probe of the database from ``uow_factory`` by default) is what they wait on.
    ``publishes`` (the definition's) become the broker's documented sends.
    ``broker_options`` go to ``RabbitBroker`` (middlewares, logger, graceful_timeout, ...).
    """
    retry = retry or RetryPolicy()
    upcasters = upcasters if upcasters is not None else UPCASTERS
    queues = tuple(
        consumer_queues(service, s.handler, s.messages, delays=retry.delays, delivery_limit=delivery_limit)
        for s in subscriptions
    )
    topology = ServiceTopology(service, takes_commands(service, subscriptions), queues)
    recovery = recovery or Recovery(database_probe(uow_factory), what="the database")
    delivery = DeliveryMiddlewares()
    # Innermost: the tracing and metrics middlewares the caller gives see the whole delivery.
    middlewares = (*broker_options.pop("middlewares", ()), delivery)
    broker = ServiceBroker(
        amqp_url,
        topology=topology,
        recovery=recovery,
        default_channel=Channel(prefetch_count=prefetch, publisher_confirms=True),
        middlewares=middlewares,
        apply_types=False,
        **broker_options,
    )
    broker.sends = send_publishers(broker, service, publishes)
    republish = republisher(broker, service)

    for subscription, queues_of in zip(subscriptions, queues, strict=True):
        consumer = Consumer(
            queue=queues_of.name,
            subscription=subscription,
            uow_factory=uow_factory,
            retry=retry,
            republish=republish,
            upcasters=upcasters,
            recovery=recovery,
            hold_limit=hold_limit,
        )
        subscriber = broker.subscriber(
            queues_of.main,
            ack_policy=AckPolicy.MANUAL,
            no_reply=True,
            parser=consumer.codec.parse,
            decoder=consumer.codec.decode,
            title=queues_of.name,
            description=receive_description(queues_of.name, subscription.messages),
        )
        consumer.intake = SubscriberIntake(subscriber)
        delivery.consumers[queues_of.name] = consumer
        subscriber(typed_handler(queues_of.name, subscription))
    return broker
