"""pytest fixtures every package's tests share (the root conftest enables them)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.db import create_chassis_tables, create_engine
from testkit.resources import fresh_database, fresh_vhost


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    """A new empty database for one test (``postgresql://...``)."""
    async with fresh_database() as url:
        yield url


@pytest.fixture
async def amqp_url() -> AsyncIterator[str]:
    """A new empty vhost for one test, as an AMQP URL."""
    async with fresh_vhost() as url:
        yield url


@pytest.fixture
async def chassis_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's database, which holds the chassis' tables (outbox, inbox, idempotency keys)."""
    engine = create_engine(database_url)
    await create_chassis_tables(engine)
    yield engine
    await engine.dispose()
