"""Opening and closing what a process shares, and waiting for servers that are not up yet.

A service started before its database or broker (a fresh ``docker compose up``, a node restart) waits for
them with growing pauses instead of crashing, and stops waiting as soon as it is asked to stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.db import create_engine, session_factory
from chassis.definition import AppResources, S, ServiceDefinition, U
from chassis.observability.tracing import instrument_engine

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_PAUSE = 0.5
LONGEST_PAUSE = 15.0


class Stopped(Exception):
    """The process was asked to stop while still waiting for a server."""


async def sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` or until ``stop`` is set; True when stopped."""
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def with_backoff(
    attempt: Callable[[], Awaitable[T]],
    *,
    what: str,
    stop: asyncio.Event,
    deadline: float | None = None,
) -> T:
    """``attempt()`` until it succeeds, pausing 0.5s, 1s, 2s ... 15s between failures.

    Raises :class:`Stopped` when ``stop`` is set first, and the last error once ``deadline`` seconds
    (when given) have passed.
    """
    loop = asyncio.get_running_loop()
    give_up_at = None if deadline is None else loop.time() + deadline
    pause = FIRST_PAUSE
    failures = 0
    while True:
        if stop.is_set():
            raise Stopped(what)
        try:
            result = await attempt()
        except Exception as error:
            failures += 1
            if give_up_at is not None and loop.time() + pause > give_up_at:
                raise
            log.warning("%s is not reachable yet (%s); retrying in %.1fs", what, error, pause, exc_info=False)
            if await sleep_unless_stopped(stop, pause):
                raise Stopped(what) from error
            pause = min(pause * 2, LONGEST_PAUSE)
        else:
            if failures:
                log.info("%s is reachable after %d failed attempts", what, failures)
            return result


async def ping_database(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def wait_for_database(
    engine: AsyncEngine, stop: asyncio.Event, *, deadline: float | None = None
) -> None:
    await with_backoff(lambda: ping_database(engine), what="the database", stop=stop, deadline=deadline)


@asynccontextmanager
async def open_resources(
    definition: ServiceDefinition[S, U],
    settings: S,
    stop: asyncio.Event,
    *,
    pool_timeout: float | None = None,
) -> AsyncIterator[AppResources[S, U]]:
    """The engine, session factory and unit-of-work factory of one role; the engine is disposed on exit.

    Nothing connects here: the pool opens connections on first use. ``pool_timeout`` bounds the wait for a
    connection (default: the pool's own, ``chassis.db.POOL_DEFAULTS``).
    """
    pool = {} if pool_timeout is None else {"pool_timeout": pool_timeout}
    engine = create_engine(
        settings.database_url,
        application_name=definition.name,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        **pool,
    )
    instrument_engine(engine)
    sessions = session_factory(engine)
    try:
        yield AppResources(
            definition=definition,
            settings=settings,
            engine=engine,
            session_factory=sessions,
            uow_factory=definition.uow_factory(sessions),
            stop=stop,
        )
    finally:
        await engine.dispose()
