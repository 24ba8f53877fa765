"""Each way a database can be out of reach, produced on a real PostgreSQL, is recognised as such; errors of
the handler itself are not. Only the test's own database (and a role it creates) is ever broken."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.db import create_engine
from chassis.messaging.unreachable import is_unreachable
from testkit.faults import database_name, end_of_stream_withheld, refusing_connections, terminate_sessions
from testkit.polling import eventually
from testkit.resources import _admin_execute, unique_name, with_database
from testkit.servers import test_servers as servers

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    # As every service's engine: a session terminated while idle is refused at checkout and replaced.
    engine = create_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.5)
    try:
        yield engine
    finally:
        await engine.dispose()


async def error_of(engine: AsyncEngine, statement: str = "SELECT 1") -> BaseException:
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    except Exception as error:
        return error
    raise AssertionError(f"{statement!r} succeeded")


async def warm(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def test_a_database_that_refuses_connections_is_unreachable(
    engine: AsyncEngine, database_url: str
) -> None:
    await warm(engine)
    async with refusing_connections(database_url):
        # The pooled session was terminated, and its replacement is refused. Drawn in the instant between
        # the server's goodbye and its end of stream, the pooled one fails first, as a lost connection.
        refused = await error_of(engine)
        if "not currently accepting connections" not in str(refused):
            assert is_unreachable(refused), refused
            refused = await error_of(engine)
    assert "not currently accepting connections" in str(refused)
    assert is_unreachable(refused), refused


async def test_a_goodbye_read_before_its_end_of_stream_is_a_lost_connection(database_url: str) -> None:
    async with end_of_stream_withheld(database_url) as (relayed_url, server_closed):
        engine = create_engine(relayed_url, pool_size=1, max_overflow=0, pool_timeout=0.5)
        try:
            await warm(engine)
            await terminate_sessions(database_url)
            await asyncio.wait_for(server_closed.wait(), 10)
            await asyncio.sleep(0.1)  # the pooled connection's protocol reads the FATAL message meanwhile
            lost = await error_of(engine)
            assert isinstance(lost, DBAPIError), lost
            assert lost.connection_invalidated, lost
            assert is_unreachable(lost), lost
            # It left the pool: the next unit of work runs on a fresh connection.
            await warm(engine)
        finally:
            await engine.dispose()


async def test_a_session_terminated_mid_statement_is_unreachable(
    engine: AsyncEngine, database_url: str
) -> None:
    sleeping = asyncio.create_task(error_of(engine, "SELECT pg_sleep(30)"))

    async def asleep() -> bool:
        connection = await asyncpg.connect(servers().postgres_url)
        try:
            query = (
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'SELECT pg_sleep%'"
            )
            return bool(await connection.fetchval(query, database_name(database_url)))
        finally:
            await connection.close()

    await eventually(asleep)
    await terminate_sessions(database_url)
    error = await asyncio.wait_for(sleeping, 10)
    assert "terminating connection due to administrator command" in str(error)  # 57P01
    assert is_unreachable(error)


async def test_a_pool_with_no_connection_free_is_unreachable(engine: AsyncEngine) -> None:
    async with engine.connect() as held:
        await held.execute(text("SELECT 1"))
        error = await error_of(engine)
    assert "QueuePool limit" in str(error)
    assert is_unreachable(error)


async def test_a_closed_port_is_unreachable() -> None:
    closed = create_engine("postgresql://postgres@127.0.0.1:1/nothing", pool_pre_ping=False)
    try:
        error = await error_of(closed)
    finally:
        await closed.dispose()
    assert isinstance(error, ConnectionRefusedError)
    assert is_unreachable(error)


async def test_too_many_connections_is_unreachable(database_url: str) -> None:
    role = unique_name("folio_test_role")
    admin_url = servers().postgres_url
    await _admin_execute(admin_url, f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0')
    try:
        limited = create_engine(
            with_database(admin_url, database_name(database_url)).replace("postgres@", f"{role}@", 1),
            pool_pre_ping=False,
        )
        try:
            error = await error_of(limited)
        finally:
            await limited.dispose()
    finally:
        await _admin_execute(admin_url, f'DROP ROLE "{role}"')
    assert getattr(error, "orig", None) is not None
    assert "too many connections" in str(error)
    assert is_unreachable(error)


async def test_a_read_only_database_after_failover_is_unreachable(
    engine: AsyncEngine, database_url: str
) -> None:
    name = database_name(database_url)
    await _admin_execute(
        servers().postgres_url, f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'
    )
    error = await error_of(engine, "CREATE TABLE t (x int)")
    assert "read-only transaction" in str(error)
    assert is_unreachable(error)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT 1 / 0",
        "SELECT * FROM no_such_table",
        # 55000 like ALLOW_CONNECTIONS false, but the handler's own mistake.
        "SELECT currval('s')",
    ],
    ids=["division_by_zero", "undefined_table", "object_not_in_prerequisite_state"],
)
async def test_the_handlers_own_errors_are_not_unreachable(engine: AsyncEngine, statement: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("CREATE SEQUENCE s"))
    error = await error_of(engine, statement)
    assert not is_unreachable(error), error


async def test_a_unique_violation_is_not_unreachable(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("CREATE TABLE u (x int PRIMARY KEY); INSERT INTO u VALUES (1)")
        with pytest.raises(asyncpg.UniqueViolationError) as caught:
            await connection.execute("INSERT INTO u VALUES (1)")
    finally:
        await connection.close()
    assert not is_unreachable(caught.value)
