"""Faults the end-to-end tests inflict on a running stack: copies of every message on the bus, poison
messages in the services' queues, a restart of the broker itself, a service's database refusing
connections, a broker permission taken away, and the mail server down or throttling (`SmtpSwitch`).
A PostgreSQL server to restart is a private one (`devstack.private_postgres`), never the shared one.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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


@contextmanager
def refusing_connections(admin: Admin, service: str) -> Iterator[None]:
    """``service``'s database refuses every new connection and loses its open ones, until the block ends.

    ``ALLOW_CONNECTIONS false`` plus terminating its sessions, as an operator (or a failover) would; only
    ever on the stack's own database. The superuser stays connected to ``postgres`` to give it back.
    """
    database = f"{admin.config.prefix}_{service}"
    admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    try:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1"
            " AND pid <> pg_backend_pid()",
            database,
        )
        yield
    finally:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')


@contextmanager
def refusing_exchange(admin: Admin, service: str, exchange: str) -> Iterator[None]:
    """``service``'s broker user may no longer publish to ``exchange``, until the block ends.

    A channel caches the permissions it has checked, so the relay's connections are closed (the relay
    reconnects and meets the new rule); consumers keep theirs.
    """
    user = f"{admin.config.prefix}_{service}"
    granted = admin.permissions(user)
    refused = {**granted, "write": f"(?!^{re.escape(exchange)}$){granted['write']}"}
    admin.set_permissions(user, refused)
    try:
        if not admin.close_connections(user, name=RELAY_CONNECTION):
            admin.close_connections(user)
        yield
    finally:
        admin.set_permissions(user, granted)


# The name the outbox relay gives its broker connection (`chassis.outbox.publisher`).
RELAY_CONNECTION = "folio-outbox-relay"


class SmtpSwitch:
    """A TCP switch in front of the stack's mail sink: the notification workers talk to ``port``.

    ``forward()`` (the default) passes every session on to the sink; ``down()`` stops listening
    (connection refused, as with the mail server stopped; sessions in flight finish their message, as a
    server stopping gracefully lets them, so no hand-off is cut during DATA, and are closed with ``421`` at
    their next MAIL FROM); ``throttle()`` answers
    each new session itself, greeting and EHLO as a server would and ``421`` at MAIL FROM, then hangs up, and
    answers the next MAIL FROM of a session it is forwarding the same way (a server that throttles: per
    message, so a client's kept session meets it too). The sink keeps running throughout, so it still lists
    every e-mail it accepted. Runs its own event loop in a thread: ``start()``, ``stop()``.
    """

    THROTTLED = b"421 4.7.0 Too many messages from you, try again later\r\n"
    SHUTTING_DOWN = b"421 4.3.2 Service shutting down, closing transmission channel\r\n"

    def __init__(self, upstream_port: int, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.upstream_port = upstream_port
        self.mode = "forward"
        # Sessions answered with 421 so far.
        self.throttled = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smtp switch", daemon=True)

    def start(self) -> SmtpSwitch:
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def forward(self) -> None:
        self.mode = "forward"
        self._call(self._listen())

    def throttle(self) -> None:
        self.mode = "throttle"
        self._call(self._listen())

    def down(self) -> None:
        self.mode = "down"
        self._call(self._close(abort=False))

    def _call(self, coroutine: Any) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._session, self.host, self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self, *, abort: bool = True) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if abort:
            for writer in list(self._sessions):
                writer.transport.abort()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._sessions.add(writer)
        try:
            if self.mode == "throttle":
                await self._throttle(reader, writer)
            else:
                await self._pipe(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._sessions.discard(writer)
            writer.transport.abort()

    async def _throttle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 folio-throttle ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250 folio-throttle\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 2.0.0 Bye\r\n")
                break
            elif verb in (b"RSET", b"NOOP"):
                writer.write(b"250 2.0.0 OK\r\n")
            else:
                self.throttled += 1
                writer.write(self.THROTTLED)
                break
            await writer.drain()
        await writer.drain()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(self.host, self.upstream_port)
        self._sessions.add(upstream_writer)
        try:

            async def copy(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
                while chunk := await source.read(65536):
                    target.write(chunk)
                    await target.drain()
                target.close()

            async def commands() -> None:
                # Line by line, to see where a message begins; a body's lines are not commands.
                in_body = False
                while line := await reader.readline():
                    verb = line[:4].upper()
                    if not in_body and verb == b"MAIL" and self.mode != "forward":
                        if self.mode == "throttle":
                            self.throttled += 1
                        writer.write(self.THROTTLED if self.mode == "throttle" else self.SHUTTING_DOWN)
                        await writer.drain()
                        upstream_writer.transport.abort()
                        return
                    upstream_writer.write(line)
                    await upstream_writer.drain()
                    in_body = line != b".\r\n" if in_body else verb == b"DATA"
                upstream_writer.close()

            await asyncio.gather(commands(), copy(upstream_reader, writer))
        finally:
            self._sessions.discard(upstream_writer)
            upstream_writer.transport.abort()
