"""Engines and sessions: every service reaches PostgreSQL through asyncpg under SQLAlchemy's async API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from chassis.db_metrics import count_round_trips
from chassis.tables import metadata

ASYNC_DRIVER = "postgresql+asyncpg"

# Enough for an API process and its worker tasks; recycling keeps connections from outliving server-side
# idle timeouts. No pre-ping: asyncpg makes it BEGIN, a query and ROLLBACK on every checkout, three of a
# delivery's eight round trips, and the checkout listener below does its job without them.
POOL_DEFAULTS: dict[str, Any] = {
    "pool_size": 10,
    "max_overflow": 10,
    "pool_timeout": 30,
    "pool_recycle": 1800,
    "pool_pre_ping": False,
}


def async_url(url: str | URL) -> URL:
    """``url`` with the asyncpg driver, whichever PostgreSQL spelling it came in (``postgres://`` too)."""
    parsed = make_url(_canonical_scheme(url) if isinstance(url, str) else url)
    if not parsed.drivername.startswith("postgresql"):
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    return parsed.set(drivername=ASYNC_DRIVER)


def asyncpg_dsn(url: str | URL) -> str:
    """A plain ``postgresql://`` DSN for a raw asyncpg connection (the relay's LISTEN connection)."""
    return async_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _canonical_scheme(url: str) -> str:
    # libpq accepts postgres://, SQLAlchemy does not.
    return "postgresql" + url[len("postgres") :] if url.startswith("postgres:") else url


def create_engine(url: str | URL, *, application_name: str | None = None, **kw: Any) -> AsyncEngine:
    """An async engine on asyncpg; keyword arguments override the pool defaults.

    ``application_name`` shows up in ``pg_stat_activity``, which makes a service's connections easy to find.
    Its round trips are counted on /metrics (``chassis.db_metrics``).
    """
    options = {**POOL_DEFAULTS, **kw}
    if application_name is not None:
        connect_args = dict(options.pop("connect_args", {}))
        server_settings = {**connect_args.get("server_settings", {}), "application_name": application_name}
        options["connect_args"] = {**connect_args, "server_settings": server_settings}
    engine = create_async_engine(async_url(url), **options)
    event.listen(engine.sync_engine.pool, "checkout", _refuse_closed)
    count_round_trips(engine)
    return engine


def _refuse_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    # A server that restarts, times a session out or terminates a backend says so on the socket, and the
    # event loop reads it while the connection sits in the pool: asyncpg then knows it is closed without a
    # round trip. Refused, the pool opens a fresh one (up to three tries) before the caller sees anything.
    # The goodbye (a FATAL message) and the end of stream can arrive an event-loop turn apart; a connection
    # drawn in between fails its first statement, and asyncpg aborts it, so it is invalidated as lost.
    # A connection lost later, mid-transaction, fails that transaction as an outage and invalidates the
    # rest of the pool (SQLAlchemy's disconnect handling); the caller's retry finds fresh connections.
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Objects stay readable after commit: handlers often answer from what they just wrote.
    return async_sessionmaker(engine, expire_on_commit=False)


async def create_chassis_tables(engine: AsyncEngine) -> None:
    """Create the chassis tables directly; for tests and benchmarks only (services use Alembic)."""
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
