"""Names, queue arguments and bindings of a service's topology, without a broker."""

from __future__ import annotations

from typing import ClassVar

from faststream.rabbit import ExchangeType

from chassis.messaging.consumer import RetryPolicy, Subscription
from chassis.messaging.topology import (
    PARKING_DELIVERY_LIMIT,
    ServiceTopology,
    consumer_queues,
    message_exchange,
    parking_queue_name,
    queue_name,
    retry_queue_name,
    service_of,
)
from chassis.messaging.worker import takes_commands
from contracts.base import Command, Event


class Reserve(Command):
    TYPE: ClassVar[str] = "folio.shop.reserve.v1"
    OWNER: ClassVar[str] = "shop"
    SUBJECT: ClassVar[str] = "order_id"

    order_id: str


class Placed(Event):
    TYPE: ClassVar[str] = "folio.orders.placed.v1"
    OWNER: ClassVar[str] = "orders"
    SUBJECT: ClassVar[str] = "order_id"

    order_id: str


async def _noop(message: object, uow: object) -> None:
    return None


def test_names_all_start_with_the_service() -> None:
    name = queue_name("shop", "reserve")
    assert name == "shop.reserve"
    assert retry_queue_name(name, 2) == "shop.reserve.retry.2"
    assert parking_queue_name(name) == "shop.reserve.dlq"
    assert service_of("shop.reserve.dlq") == "shop"


def test_message_exchanges() -> None:
    assert message_exchange(Reserve).name == "shop.commands"
    assert message_exchange(Reserve).type is ExchangeType.DIRECT
    assert message_exchange(Placed).name == "orders.events"
    assert message_exchange(Placed).type is ExchangeType.TOPIC


def test_consumer_queues_chain_retries_back_to_the_queue_and_park_in_the_dlq() -> None:
    queues = consumer_queues("shop", "on_placed", (Placed,), delays=(1, 5, 30), delivery_limit=7)
    assert [q.name for q in queues.queues()] == [
        "shop.on_placed",
        "shop.on_placed.retry.1",
        "shop.on_placed.retry.2",
        "shop.on_placed.retry.3",
        "shop.on_placed.dlq",
    ]
    for queue in queues.queues():
        assert queue.durable
        assert queue.arguments is not None
        assert queue.arguments["x-queue-type"] == "quorum"
    main = queues.main.arguments or {}
    assert main["x-delivery-limit"] == 7
    assert main["x-dead-letter-exchange"] == "shop.internal"
    assert main["x-dead-letter-routing-key"] == "shop.on_placed.dlq"
    assert [(q.arguments or {})["x-message-ttl"] for q in queues.retries] == [1000, 5000, 30000]
    assert all((q.arguments or {})["x-dead-letter-routing-key"] == "shop.on_placed" for q in queues.retries)
    assert (queues.parking.arguments or {})["x-delivery-limit"] == PARKING_DELIVERY_LIMIT
    assert {(b.exchange.name, b.queue, b.routing_key) for b in queues.bindings} == {
        ("orders.events", "shop.on_placed", Placed.TYPE),
        ("shop.internal", "shop.on_placed", "shop.on_placed"),
        ("shop.internal", "shop.on_placed.retry.1", "shop.on_placed.retry.1"),
        ("shop.internal", "shop.on_placed.retry.2", "shop.on_placed.retry.2"),
        ("shop.internal", "shop.on_placed.retry.3", "shop.on_placed.retry.3"),
        ("shop.internal", "shop.on_placed.dlq", "shop.on_placed.dlq"),
    }


def test_service_exchanges_own_and_foreign() -> None:
    consumers = (
        consumer_queues("shop", "reserve", (Reserve,), delays=(1,)),
        consumer_queues("shop", "on_placed", (Placed,), delays=(1,)),
    )
    topology = ServiceTopology("shop", takes_commands=True, consumers=consumers)
    assert [e.name for e in topology.own_exchanges()] == ["shop.events", "shop.internal", "shop.commands"]
    assert [e.name for e in topology.foreign_exchanges()] == ["orders.events"]
    without_commands = ServiceTopology("shop", takes_commands=False, consumers=consumers[1:])
    assert [e.name for e in without_commands.own_exchanges()] == ["shop.events", "shop.internal"]


def test_a_service_takes_commands_when_it_subscribes_to_its_own() -> None:
    assert takes_commands("shop", [Subscription("reserve", (Reserve,), _noop)])
    assert not takes_commands("shop", [Subscription("on_placed", (Placed,), _noop)])


def test_retry_policy() -> None:
    assert RetryPolicy().delays == (1.0, 5.0, 30.0)
    assert RetryPolicy((0.2, 0.4)).attempts == 3
