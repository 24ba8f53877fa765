"""The bootstrap declares each service's broker topology exactly as its worker does, before any worker runs.

A message published before its consumer first started must wait in its queue, and the worker that starts
later must find queues whose arguments equal its own (a mismatch fails its declaration with
PRECONDITION_FAILED). Both are checked against the services' real subscriptions.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from importlib import import_module

import aio_pika
import pytest

from chassis.definition import ServiceDefinition
from chassis.messaging.consumer import RetryPolicy
from chassis.messaging.topology import declare
from chassis.messaging.worker import ServiceBroker, build_broker
from contracts import ALL_MESSAGES, topology
from folio_ops.bootstrap import cli
from folio_ops.bootstrap.definitions import Definitions, build, service_topology
from testkit import servers as test_servers_module

DELAYS = (0.5, 2.0)


def service_definition(service: str) -> ServiceDefinition:
    module = import_module(f"{service}.entrypoints.definition")
    definition: ServiceDefinition = module.definition()
    return definition


def worker_broker(service: str, amqp_url: str, delays: tuple[float, ...]) -> ServiceBroker:
    """The broker the service's worker builds (runner.run_worker), before it starts."""
    return build_broker(
        service=service,
        amqp_url=amqp_url,
        subscriptions=service_definition(service).subscriptions(),
        uow_factory=lambda: None,  # never called: nothing is consumed here
        retry=RetryPolicy(delays=delays),
    )


@pytest.mark.parametrize("service", topology.SERVICES)
@pytest.mark.parametrize("delays", [(1.0, 5.0, 30.0), DELAYS])
def test_the_bootstrap_declares_what_the_worker_declares(service: str, delays: tuple[float, ...]) -> None:
    worker = worker_broker(service, "amqp://unused", delays).topology
    assert service_topology(service, delays) == worker


@pytest.fixture(scope="module")
async def applied() -> AsyncIterator[tuple[Definitions, dict[str, str]]]:
    servers = test_servers_module.test_servers()
    env = {
        "FOLIO_POSTGRES_ADMIN_URL": servers.postgres_url,
        "FOLIO_RABBITMQ_MANAGEMENT_URL": servers.rabbitmq_management_url,
        "FOLIO_RABBITMQ_AMQP_URL": servers.amqp_url,
        "FOLIO_RETRY_DELAYS": ",".join(str(d) for d in DELAYS),
    }
    name = f"folio_t{uuid.uuid4().hex[:10]}"
    definitions = build(name, name, env, dev=True)
    try:
        await cli.apply(definitions, env)
        yield definitions, cli.service_env(definitions, env)
    finally:
        await cli.teardown(definitions, env)


@pytest.mark.integration
async def test_a_message_sent_before_its_consumer_first_started_waits_and_the_worker_declares_cleanly(
    applied: tuple[Definitions, dict[str, str]],
) -> None:
    definitions, urls = applied
    by_type = {m.TYPE: m for m in ALL_MESSAGES}
    command_senders = {t: s for s, sent in topology.SENDS_COMMANDS.items() for t in sent}
    subscribed = {t for types in topology.SUBSCRIPTIONS.values() for t in types}
    # Every subscribed type once, published by its real sender, with no worker running anywhere.
    for message_type in sorted(subscribed):
        sender = command_senders.get(message_type, topology.owner(message_type))
        connection = await aio_pika.connect(urls[f"{sender.upper()}_AMQP_URL"])
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(by_type[message_type].exchange(), ensure=False)
            # mandatory: the broker returns (and aio-pika raises) what no queue receives.
            await exchange.publish(
                aio_pika.Message(b"{}"), routing_key=by_type[message_type].routing_key(), mandatory=True
            )
        finally:
            await connection.close()

    for service in topology.SERVICES:
        broker = worker_broker(service, urls[f"{service.upper()}_AMQP_URL"], DELAYS)
        await broker.connect()
        try:
            await declare(broker, broker.topology)  # what ServiceBroker.start does first
        finally:
            await broker.stop()
    admin_url = test_servers_module.test_servers().amqp_url.rstrip("/") + f"/{definitions.vhost}"
    admin = await aio_pika.connect(admin_url)
    try:
        channel = await admin.channel()
        for service, queues in topology.QUEUES.items():
            for handler, types in queues.items():
                queue = await channel.declare_queue(f"{service}.{handler}", passive=True)
                assert queue.declaration_result.message_count == len(types), queue.name
    finally:
        await admin.close()
