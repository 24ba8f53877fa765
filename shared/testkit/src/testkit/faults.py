"""Database faults for tests, on databases the test created itself (never on anyone else's)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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
