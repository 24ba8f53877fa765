"""A per-process count of the round trips the chassis' engines make to PostgreSQL, on /metrics.

Round trips, not CPU, are what a worker's delivery mostly costs (each is a socket write, a wait and a
parse), and this server has no pg_stat_statements: so each engine counts its own, by kind, through
SQLAlchemy's events on the sync engine (the outbox relay, whose statements run on the pooled connection's
driver, counts its own through the same counters: ``chassis.outbox.store``). ``statement`` is one execute
(an executemany too); ``begin``, ``commit`` and ``rollback`` are the transaction's own (asyncpg sends BEGIN
with a transaction's first statement, so a transaction that runs none sends none: SQLAlchemy does not begin
one either); ``ping`` is pool_pre_ping's check of a connection taken from the pool, which asyncpg makes as
BEGIN, an empty query and ROLLBACK, so three. Not counted: asyncpg's prepare of a statement its
per-connection cache does not hold yet (once per connection and statement), and connecting, which
:data:`CONNECTS` counts apart.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

SQL_ROUND_TRIPS = Counter(
    "folio_sql_round_trips",
    "Round trips to PostgreSQL made by this process' engines, by kind (statement, begin, commit, "
    "rollback, ping)",
    ["kind"],
)
CONNECTS = Counter(
    "folio_sql_connects",
    "Connections to PostgreSQL opened by this process' engines (each several round trips: startup, "
    "authentication, asyncpg's type introspection)",
)
# What asyncpg sends for one pre-ping outside a transaction: BEGIN, an empty query, ROLLBACK.
PING_ROUND_TRIPS = 3
# Set on a connection's pool record when it was just opened: the pool skips the pre-ping of its first use.
_FRESH = "folio_fresh"


# One child per kind; the outbox relay, which runs its statements on the driver, counts through these too.
STATEMENTS, BEGINS, COMMITS, ROLLBACKS, PINGS = (
    SQL_ROUND_TRIPS.labels(kind) for kind in ("statement", "begin", "commit", "rollback", "ping")
)


def count_round_trips(engine: AsyncEngine) -> None:
    """Count ``engine``'s round trips in :data:`SQL_ROUND_TRIPS` (call once per engine)."""
    sync_engine = engine.sync_engine

    def on_statement(*_: Any) -> None:
        STATEMENTS.inc()

    def on_connect(_connection: Any, record: Any) -> None:
        CONNECTS.inc()
        record.info[_FRESH] = True

    def on_checkout(_connection: Any, record: Any, _proxy: Any) -> None:
        if not record.info.pop(_FRESH, False):
            PINGS.inc(PING_ROUND_TRIPS)

    event.listen(sync_engine, "before_cursor_execute", on_statement)
    event.listen(sync_engine, "begin", lambda _: BEGINS.inc())
    event.listen(sync_engine, "commit", lambda _: COMMITS.inc())
    event.listen(sync_engine, "rollback", lambda _: ROLLBACKS.inc())
    event.listen(sync_engine.pool, "connect", on_connect)
    if sync_engine.pool._pre_ping:
        event.listen(sync_engine.pool, "checkout", on_checkout)


def round_trips_so_far() -> float:
    """Every round trip this process' engines counted, all kinds together (for benchmarks and tests)."""
    return sum(s.value for m in SQL_ROUND_TRIPS.collect() for s in m.samples if s.name.endswith("_total"))
