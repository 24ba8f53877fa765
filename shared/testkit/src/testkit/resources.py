"""Throwaway databases and vhosts with unique names, dropped afterwards even when a test fails."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import httpx

from testkit.servers import test_servers


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def with_vhost(amqp_url: str, vhost: str) -> str:
    parts = urlsplit(amqp_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), parts.query, parts.fragment))


# How long creating or dropping a test database or vhost waits for a busy shared server to answer.
ADMIN_CONNECT_PATIENCE = 60.0


async def _admin_execute(admin_url: str, statement: str) -> None:
    """Run one statement on a short admin connection, waiting while the server has no connection free.

    The test server is shared with other suites: a momentary "too many clients" must not fail a test (or,
    worse, leave its database behind when it happens while dropping it).
    """
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + ADMIN_CONNECT_PATIENCE
    pause = 0.1
    while True:
        try:
            admin = await asyncpg.connect(admin_url)
        except (asyncpg.TooManyConnectionsError, asyncpg.CannotConnectNowError):
            if loop.time() + pause > give_up_at:
                raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)
            continue
        try:
            await admin.execute(statement)
        finally:
            await admin.close()
        return


@asynccontextmanager
async def fresh_database(prefix: str = "folio_test") -> AsyncIterator[str]:
    """Create an empty database; yield its URL (``postgresql://...``); drop it afterwards.

    Dropping uses ``WITH (FORCE)``, which ends sessions still connected, so whatever used the database must
    have been stopped before: a connection still working in it when it goes is a leak in the test.
    """
    admin_url = test_servers().postgres_url
    name = unique_name(prefix)
    await _admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin_url, name)
    finally:
        await _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def management_client() -> httpx.AsyncClient:
    parts = urlsplit(test_servers().rabbitmq_management_url)
    base = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port or 15672}", parts.path, "", ""))
    return httpx.AsyncClient(
        base_url=base, auth=(parts.username or "guest", parts.password or "guest"), timeout=30
    )


async def _idempotent_call(
    api: httpx.AsyncClient, method: str, path: str, json: dict[str, str] | None = None
) -> httpx.Response:
    """One idempotent management API call, repeated while a busy broker does not answer."""
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + ADMIN_CONNECT_PATIENCE
    pause = 0.1
    while True:
        try:
            return await api.request(method, path, json=json)
        except httpx.TransportError:
            if loop.time() + pause > give_up_at:
                raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)


@asynccontextmanager
async def fresh_vhost(prefix: str = "folio_test") -> AsyncIterator[str]:
    """Create an empty vhost the admin user may use; yield its AMQP URL; delete it afterwards."""
    name = unique_name(prefix)
    amqp = urlsplit(test_servers().amqp_url)
    user = amqp.username or "guest"
    async with management_client() as api:
        vhost = quote(name, safe="")
        try:
            (await _idempotent_call(api, "PUT", f"/api/vhosts/{vhost}")).raise_for_status()
            permissions = {"configure": ".*", "write": ".*", "read": ".*"}
            path = f"/api/permissions/{vhost}/{quote(user, safe='')}"
            (await _idempotent_call(api, "PUT", path, permissions)).raise_for_status()
            yield with_vhost(test_servers().amqp_url, name)
        finally:
            await _idempotent_call(api, "DELETE", f"/api/vhosts/{vhost}")
