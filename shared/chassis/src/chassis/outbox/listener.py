"""LISTEN on the outbox channel over a dedicated asyncpg connection, reconnecting whenever it drops."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from chassis.outbox.options import retry_delay
from chassis.outbox.waiting import wait_any
from chassis.tables import OUTBOX_CHANNEL

log = logging.getLogger(__name__)

APPLICATION_NAME = "folio-outbox-listener"


async def listen(
    dsn: str,
    wake: asyncio.Event,
    stop: asyncio.Event,
    *,
    channel: str = OUTBOX_CHANNEL,
    keepalive: float = 15.0,
    listening: asyncio.Event | None = None,
    application_name: str = APPLICATION_NAME,
) -> None:
    """Set ``wake`` on every notification until ``stop`` is set, reconnecting with backoff.

    ``listening`` is set while a connection listens and cleared as soon as it is lost: the relay polls
    often only while no one listens.
    """
    listening = listening or asyncio.Event()
    failures = 0
    while not stop.is_set():
        try:
            connection = await asyncpg.connect(dsn, server_settings={"application_name": application_name})
        except Exception as exc:
            failures += 1
            delay = retry_delay(failures, base=0.5, maximum=10.0)
            log.warning("%s cannot connect (%r); retrying in %.1fs", application_name, exc, delay)
            await wait_any(stop, at_most=delay)
            continue
        if failures:
            log.info("%s reconnected", application_name)
        failures = 0
        try:
            await _listen_on(connection, channel, wake, stop, keepalive, listening)
        except Exception as exc:
            # Whatever went wrong, polling covers for it until the next connection listens again.
            log.warning("%s connection failed (%r); reconnecting", application_name, exc)
        finally:
            listening.clear()
            await _close(connection)


async def _listen_on(
    connection: asyncpg.Connection,
    channel: str,
    wake: asyncio.Event,
    stop: asyncio.Event,
    keepalive: float,
    listening: asyncio.Event,
) -> None:
    """Listen until ``stop`` or until the connection is lost.

    Sets ``wake`` once listening: notifications sent while no one listened are gone, so whatever they
    announced is best looked for at once. A periodic ``SELECT 1`` finds a connection that died silently.
    """
    lost = asyncio.Event()

    def on_lost(_connection: object) -> None:
        lost.set()
        listening.clear()

    connection.add_termination_listener(on_lost)
    await connection.add_listener(channel, lambda *_args: wake.set())
    listening.set()
    wake.set()
    while not stop.is_set() and not lost.is_set():
        await wait_any(stop, lost, at_most=keepalive)
        if not stop.is_set() and not lost.is_set():
            await connection.execute("SELECT 1", timeout=keepalive)
    if lost.is_set() and not stop.is_set():
        log.warning("outbox listener connection lost; reconnecting")


async def _close(connection: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(connection.close(), timeout=5)
    except Exception:
        connection.terminate()
