"""Faults the end-to-end tests inflict on a running stack: copies of every message on the bus, poison
messages in the services' queues, and a restart of the broker itself.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
import uuid
from collections import Counter

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage

from contracts import topology
from contracts.envelope import Envelope
from devstack.admin import Admin, run
from devstack.config import SERVICES

COPY_HEADER = "x-e2e-copy"
TAP_QUEUE = "e2e.tap"


class BusDuplicator:
    """Sends a second copy of every message crossing the services' events and commands exchanges.

    A tap queue bound to every such exchange sees each message once; the copy goes back to the same
    exchange with the same routing key, headers (so the same CloudEvents id) and body, marked so that the
    tap does not copy it again. Runs its own event loop in a thread: ``start()``, ``stop()``.
    """

    def __init__(self, admin: Admin) -> None:
        self.admin = admin
        self.copies: Counter[str] = Counter()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def start(self, timeout: float = 30) -> None:
        self._thread = threading.Thread(target=self._main, name="bus duplicator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the bus duplicator did not start")
        if self._failure is not None:
            raise RuntimeError("the bus duplicator failed") from self._failure

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)
        if self._failure is not None:
            raise RuntimeError("the bus duplicator failed") from self._failure

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as error:
            self._failure = error
            self._ready.set()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        connection = await aio_pika.connect(self.admin.amqp_url)
        try:
            channel = await connection.channel(publisher_confirms=True)
            await channel.set_qos(prefetch_count=50)
            tap = await channel.declare_queue(TAP_QUEUE, exclusive=True, auto_delete=True)
            exchanges: dict[str, AbstractExchange] = {}
            for service in SERVICES:
                name = topology.events_exchange(service)
                exchanges[name] = await channel.get_exchange(name, ensure=False)
                await tap.bind(exchanges[name], routing_key="#")
            for sent in topology.SENDS_COMMANDS.values():
                for command in sent:
                    name = topology.commands_exchange(topology.owner(command))
                    exchanges.setdefault(name, await channel.get_exchange(name, ensure=False))
                    await tap.bind(exchanges[name], routing_key=command)

            async def copy(message: AbstractIncomingMessage) -> None:
                async with message.process(requeue=True):
                    headers = dict(message.headers or {})
                    if headers.get(COPY_HEADER):
                        return
                    duplicate = aio_pika.Message(
                        message.body,
                        headers={**headers, COPY_HEADER: 1},
                        content_type=message.content_type,
                        content_encoding=message.content_encoding,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        message_id=message.message_id,
                        correlation_id=message.correlation_id,
                        type=message.type,
                        app_id=message.app_id,
                    )
                    exchange = exchanges[message.exchange or ""]
                    await exchange.publish(duplicate, routing_key=message.routing_key or "")
                    self.copies[str(headers.get("cloudEvents_type"))] += 1

            await tap.consume(copy)
            self._ready.set()
            await self._stop.wait()
        finally:
            await connection.close()


def poison(admin: Admin, queue: str) -> list[str]:
    """Put two poison messages straight into ``queue``: a subscribed type with a body that is no such
    message, and a message without any CloudEvents envelope. Returns their ids (as parking reports them).
    """
    bound = [b for b in admin.bindings(queue) if not str(b["source"]).endswith(".internal") and b["source"]]
    if not bound:
        raise LookupError(f"{queue} is bound to no exchange of another service")
    message_type = str(bound[0]["routing_key"])
    return run(_poison(admin, queue, message_type))


async def _poison(admin: Admin, queue: str, message_type: str) -> list[str]:
    envelope = Envelope(type=message_type, source="/e2e/poison", subject="poison")
    bare_id = f"poison-{uuid.uuid4()}"
    connection = await aio_pika.connect(admin.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        internal = await channel.get_exchange(f"{queue.split('.', 1)[0]}.internal", ensure=False)
        invalid_body = aio_pika.Message(
            b'{"poison": true}',
            headers=dict(envelope.to_headers()),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=str(envelope.id),
        )
        no_envelope = aio_pika.Message(
            b"this is not a message", delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=bare_id
        )
        for message in (invalid_body, no_envelope):
            await internal.publish(message, routing_key=queue, mandatory=True)
    finally:
        await connection.close()
    return [str(envelope.id), bare_id]


def restart_rabbitmq(admin: Admin, timeout: float = 120) -> float:
    """``rabbitmqctl stop_app && rabbitmqctl start_app``, then wait until the vhost takes connections.

    The broker is shared with everything else on the machine: only the broker-restart test calls this.
    Returns how long the broker was away, in seconds.
    """
    began = time.monotonic()
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=timeout)
    subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=timeout)
    deadline = time.monotonic() + timeout
    while True:
        try:
            run(_connect_once(admin))
            return time.monotonic() - began
        except (OSError, aio_pika.exceptions.AMQPError) as error:
            if time.monotonic() > deadline:
                raise TimeoutError("RabbitMQ did not come back") from error
            time.sleep(0.5)


async def _connect_once(admin: Admin) -> None:
    connection = await aio_pika.connect(admin.amqp_url, timeout=5)
    await connection.close()
