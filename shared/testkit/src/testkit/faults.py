"""Database and broker faults for tests, on databases and vhosts the test created itself (never on anyone
else's)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg

from testkit.resources import _admin_execute
from testkit.servers import test_servers


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


async def terminate_sessions(database_url: str) -> None:
    """End every session connected to the test's own database (an admin shutdown, SQLSTATE 57P01)."""
    name = database_name(database_url)
    admin = await asyncpg.connect(test_servers().postgres_url)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await admin.close()


@asynccontextmanager
async def refusing_connections(database_url: str) -> AsyncIterator[None]:
    """The test's database refuses new sessions and loses the ones it had, until the block ends.

    ``ALLOW_CONNECTIONS false`` plus terminating its sessions: what an operator's maintenance, or the issue's
    drill, does to one service's database.
    """
    name = database_name(database_url)
    admin_url = test_servers().postgres_url
    await _admin_execute(admin_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    try:
        await terminate_sessions(database_url)
        yield
    finally:
        await _admin_execute(admin_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


# The frontend's Terminate message: a client closing its session says it last.
TERMINATE = b"X\x00\x00\x00\x04"


@dataclass(frozen=True, slots=True)
class Ends:
    """Both sides of one client's connection through a relay."""

    client_reader: asyncio.StreamReader
    client_writer: asyncio.StreamWriter
    server_reader: asyncio.StreamReader
    server_writer: asyncio.StreamWriter


# Carries one client's bytes both ways, altered as the fault wants.
Pipes = Callable[[Ends], Awaitable[None]]


@asynccontextmanager
async def _relayed(url: str, default_port: int, pipes: Pipes) -> AsyncIterator[str]:
    """``url`` moved to a local TCP relay that connects each client to ``url``'s server through ``pipes``."""
    target = urlsplit(url)
    clients: set[asyncio.StreamWriter] = set()

    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        clients.add(client_writer)
        server_reader, server_writer = await asyncio.open_connection(
            target.hostname, target.port or default_port
        )
        try:
            await pipes(Ends(client_reader, client_writer, server_reader, server_writer))
        except (ConnectionError, OSError):
            pass
        finally:
            client_writer.close()
            server_writer.close()

    proxy = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    credentials = target.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    try:
        yield target._replace(netloc=netloc).geturl()
    finally:
        proxy.close()
        for client in clients:
            client.close()
        await proxy.wait_closed()


@asynccontextmanager
async def end_of_stream_withheld(database_url: str) -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A URL to the same database through a local TCP relay that passes the server's bytes on but keeps the
    client's socket open after the server closed its side, and an event set once the server did so.

    A client then holds the server's last words (a terminated session's FATAL message) without the end of
    stream that normally follows a moment later: the instant between the two, held still. A session the
    client itself ends (Terminate) closes as usual.
    """
    server_closed = asyncio.Event()

    async def pipes(ends: Ends) -> None:
        # Whether the session's end is the client's: its Terminate, or its side of the socket closing.
        client_ended = False

        async def upstream() -> None:
            nonlocal client_ended
            while data := await ends.client_reader.read(65536):
                client_ended = data.endswith(TERMINATE)
                ends.server_writer.write(data)
            client_ended = True
            ends.server_writer.close()

        async def downstream() -> None:
            while data := await ends.server_reader.read(65536):
                ends.client_writer.write(data)
                await ends.client_writer.drain()
            if client_ended:
                ends.client_writer.close()
            else:
                server_closed.set()  # the server ended it: its end of stream is withheld from the client

        await asyncio.gather(upstream(), downstream())

    async with _relayed(database_url, 5432, pipes) as url:
        yield url, server_closed


@asynccontextmanager
async def replies_withheld(url: str, default_port: int) -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A URL to the same server through a local TCP relay, and an event: once it is set, the relay drops
    everything the server sends while still passing on what the client sends.

    Every connection stays open and every request reaches the server, but no answer comes back: a broker
    that takes publishes and never confirms them, as a stalled one does.
    """
    silent = asyncio.Event()

    async def pipes(ends: Ends) -> None:
        async def upstream() -> None:
            while data := await ends.client_reader.read(65536):
                ends.server_writer.write(data)
            ends.server_writer.close()

        async def downstream() -> None:
            while data := await ends.server_reader.read(65536):
                if not silent.is_set():
                    ends.client_writer.write(data)
                    await ends.client_writer.drain()

        await asyncio.gather(upstream(), downstream())

    async with _relayed(url, default_port, pipes) as relayed:
        yield relayed, silent
