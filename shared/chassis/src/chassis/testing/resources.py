"""Throwaway databases and vhosts with unique names, dropped afterwards even when a test fails."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import httpx

from chassis.testing.servers import test_servers


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def with_vhost(amqp_url: str, vhost: str) -> str:
    parts = urlsplit(amqp_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), parts.query, parts.fragment))


@asynccontextmanager
async def fresh_database(prefix: str = "folio_test") -> AsyncIterator[str]:
    """Create an empty database; yield its URL (``postgresql://...``); drop it afterwards."""
    admin_url = test_servers().postgres_url
    name = unique_name(prefix)
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield with_database(admin_url, name)
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def management_client() -> httpx.AsyncClient:
    parts = urlsplit(test_servers().rabbitmq_management_url)
    base = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port or 15672}", parts.path, "", ""))
    return httpx.AsyncClient(
        base_url=base, auth=(parts.username or "guest", parts.password or "guest"), timeout=30
    )


@asynccontextmanager
async def fresh_vhost(prefix: str = "folio_test") -> AsyncIterator[str]:
    """Create an empty vhost the admin user may use; yield its AMQP URL; delete it afterwards."""
    name = unique_name(prefix)
    amqp = urlsplit(test_servers().amqp_url)
    user = amqp.username or "guest"
    async with management_client() as api:
        vhost = quote(name, safe="")
        (await api.put(f"/api/vhosts/{vhost}")).raise_for_status()
        permissions = {"configure": ".*", "write": ".*", "read": ".*"}
        grant = await api.put(f"/api/permissions/{vhost}/{quote(user, safe='')}", json=permissions)
        grant.raise_for_status()
        try:
            yield with_vhost(test_servers().amqp_url, name)
        finally:
            await api.delete(f"/api/vhosts/{vhost}")
