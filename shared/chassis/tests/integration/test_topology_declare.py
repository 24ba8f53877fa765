"""Declaring a service's topology on the real RabbitMQ: idempotent, quorum queues with dead-lettering."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote, unquote, urlsplit

import aio_pika
import pytest
from faststream.rabbit import RabbitBroker

from chassis.messaging.topology import (
    DEFAULT_DELIVERY_LIMIT,
    ServiceTopology,
    consumer_queues,
    declare,
    events_exchange,
)
from contracts.base import Command, Event
from testkit.resources import management_client

pytestmark = pytest.mark.integration


class DoThing(Command):
    TYPE: ClassVar[str] = "folio.svc.do-thing.v1"
    OWNER: ClassVar[str] = "svc"
    SUBJECT: ClassVar[str] = "thing_id"

    thing_id: str


class ThingHappened(Event):
    TYPE: ClassVar[str] = "folio.upstream.thing-happened.v1"
    OWNER: ClassVar[str] = "upstream"
    SUBJECT: ClassVar[str] = "thing_id"

    thing_id: str


def topology() -> ServiceTopology:
    consumers = (
        consumer_queues("svc", "do_thing", (DoThing,), delays=(0.5, 2)),
        consumer_queues("svc", "on_thing", (ThingHappened,), delays=(0.5, 2)),
    )
    return ServiceTopology("svc", takes_commands=True, consumers=consumers)


async def declare_once(amqp_url: str) -> None:
    broker = RabbitBroker(amqp_url)
    await broker.connect()
    try:
        await declare(broker, topology())
    finally:
        await broker.stop()


async def management(amqp_url: str, what: str) -> list[dict[str, Any]]:
    vhost = quote(unquote(urlsplit(amqp_url).path.lstrip("/")), safe="")
    async with management_client() as api:
        response = await api.get(f"/api/{what}/{vhost}")
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()
        return found


async def test_declaration_is_idempotent_and_queues_are_quorum_with_dead_lettering(amqp_url: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    await channel.declare_exchange("upstream.events", type="topic", durable=True)
    await connection.close()

    await declare_once(amqp_url)
    await declare_once(amqp_url)  # a restart: same declarations, no error, nothing duplicated

    queues = {q["name"]: q for q in await management(amqp_url, "queues")}
    assert set(queues) == {
        f"svc.{handler}{suffix}"
        for handler in ("do_thing", "on_thing")
        for suffix in ("", ".retry.1", ".retry.2", ".dlq")
    }
    assert all(q["type"] == "quorum" and q["durable"] for q in queues.values())
    main = queues["svc.do_thing"]["arguments"]
    assert main["x-dead-letter-exchange"] == "svc.internal"
    assert main["x-dead-letter-routing-key"] == "svc.do_thing.dlq"
    assert main["x-delivery-limit"] == DEFAULT_DELIVERY_LIMIT
    assert main["x-dead-letter-strategy"] == "at-least-once"
    second = queues["svc.do_thing.retry.2"]["arguments"]
    assert second["x-message-ttl"] == 2000
    assert second["x-dead-letter-exchange"] == "svc.internal"
    assert second["x-dead-letter-routing-key"] == "svc.do_thing"
    assert queues["svc.do_thing.retry.1"]["arguments"]["x-message-ttl"] == 500

    exchanges = {
        e["name"]: e for e in await management(amqp_url, "exchanges") if e["name"].startswith("svc.")
    }
    assert {name: e["type"] for name, e in exchanges.items()} == {
        "svc.events": "topic",
        "svc.commands": "direct",
        "svc.internal": "direct",
    }
    assert all(e["durable"] for e in exchanges.values())

    bindings = {
        (b["source"], b["destination"], b["routing_key"])
        for b in await management(amqp_url, "bindings")
        if b["source"]  # the default exchange's implicit bindings say nothing about us
    }
    assert bindings == {
        ("svc.commands", "svc.do_thing", DoThing.TYPE),
        ("upstream.events", "svc.on_thing", ThingHappened.TYPE),
        *(
            ("svc.internal", name, name)
            for handler in ("do_thing", "on_thing")
            for name in (
                f"svc.{handler}",
                f"svc.{handler}.retry.1",
                f"svc.{handler}.retry.2",
                f"svc.{handler}.dlq",
            )
        ),
    }


async def test_another_services_exchange_must_already_exist(amqp_url: str) -> None:
    broker = RabbitBroker(amqp_url)
    await broker.connect()
    try:
        with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
            await declare(broker, topology())
    finally:
        await broker.stop()
    names = {e["name"] for e in await management(amqp_url, "exchanges")}
    assert events_exchange("upstream").name not in names
