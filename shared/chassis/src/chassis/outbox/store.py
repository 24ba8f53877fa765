"""The relay's statements on the outbox table: take a locked batch, mark what was confirmed or failed.

The relay's own three run on the pooled connection's asyncpg driver directly (:func:`driver_connection`,
:func:`transaction`), each a statement asyncpg prepares once per connection: a pass that relays one row
spent half its CPU in SQLAlchemy's execution around four round trips (BEGIN, take, mark, COMMIT). They are
written once, as SQLAlchemy statements (the query-plan tests read them), and compiled for asyncpg on first
use; their round trips are counted as the engines count theirs (``chassis.db_metrics``).

Also what the metrics read (:func:`outbox_figures`) and an operator's retry of rows the relay gave up on
(:func:`retry_failed`), through SQLAlchemy as everything else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from itertools import starmap
from typing import Any, cast
from uuid import UUID

import asyncpg
from sqlalchemy import BigInteger, Integer, any_, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from chassis import db_metrics
from chassis.tables import OUTBOX_CHANNEL, outbox


@dataclass(frozen=True, slots=True)
class PendingRow:
    id: int
    message_id: UUID
    exchange: str
    routing_key: str
    type: str
    body: bytes
    headers: dict[str, Any]
    created_at: datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class Failure:
    row: PendingRow
    error: str
    # Seconds before the row may be tried again.
    delay: float


@dataclass(frozen=True, slots=True)
class OutboxFigures:
    # Rows waiting to be published (published_at IS NULL AND failed_at IS NULL), due or backing off.
    pending: int
    # Seconds since the oldest of them was committed; 0 when none is pending.
    oldest_pending_age_seconds: float
    # Rows the relay gave up on (failed_at set), waiting for an operator.
    failed: int


# The predicate and the order are exactly those of the partial index ``outbox_due``: the scan starts at the
# first due row and stops after ``limit`` rows, however many published or failed rows the table holds.
_TAKE = (
    # The columns in PendingRow's field order: each row is built from its values, with no mapping per row.
    select(*(outbox.c[field.name] for field in fields(PendingRow)))
    .where(
        outbox.c.published_at.is_(None),
        outbox.c.failed_at.is_(None),
        outbox.c.available_at <= text("now()"),
    )
    .order_by(outbox.c.available_at, outbox.c.id)
    .limit(bindparam("limit", type_=Integer))
    # Rows another relay holds are skipped, not waited for: two relays share the work and never a row.
    .with_for_update(skip_locked=True)
)

# clock_timestamp(), not now(): now() is when the transaction began, before the publishes.
_MARK_PUBLISHED = (
    update(outbox)
    .where(outbox.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))))
    .values(published_at=text("clock_timestamp()"))
)

# A row whose attempts reach the limit is failed for good (failed_at), keeping its last error.
_MARK_FAILED = text(
    """
    UPDATE outbox
       SET attempts = outbox.attempts + 1,
           last_error = failed.error,
           available_at = clock_timestamp() + make_interval(secs => failed.delay),
           failed_at = CASE WHEN outbox.attempts + 1 >= :max_attempts THEN clock_timestamp() END
      FROM unnest(CAST(:ids AS BIGINT[]), CAST(:errors AS TEXT[]), CAST(:delays AS DOUBLE PRECISION[]))
           AS failed(id, error, delay)
     WHERE outbox.id = failed.id
    RETURNING outbox.id, outbox.failed_at IS NOT NULL AS given_up
    """
)

# Each figure from its own partial index: the published history is never read.
_FIGURES = text(
    """
    SELECT pending.count AS pending,
           coalesce(extract(epoch FROM clock_timestamp() - pending.oldest), 0) AS oldest_pending_age_seconds,
           (SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL) AS failed
      FROM (SELECT count(*) AS count, min(created_at) AS oldest
              FROM outbox WHERE published_at IS NULL AND failed_at IS NULL) AS pending
    """
)

_RETRY_FAILED = text(
    """
    UPDATE outbox SET failed_at = NULL, attempts = 0, available_at = clock_timestamp()
     WHERE failed_at IS NOT NULL AND (CAST(:ids AS BIGINT[]) IS NULL OR id = ANY(CAST(:ids AS BIGINT[])))
    """
)

_NOTIFY = text("SELECT pg_notify(:channel, '')")

# Errors can be long (a broker's close reason plus a traceback-ish repr); the column is for humans.
_MAX_ERROR = 2000

# Attempts never reach this: no row is ever given up on.
_NO_LIMIT = 2**31 - 1


class _OnDriver:
    """A statement as asyncpg takes it (``$1``, ``$2``, ...), compiled once, with its parameters' order."""

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._compiled: tuple[str, tuple[str, ...]] | None = None

    async def fetch(self, connection: asyncpg.Connection, params: Mapping[str, Any]) -> list[asyncpg.Record]:
        if self._compiled is None:
            dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]  # SQLAlchemy's dialects have no annotations
            compiled = cast("SQLCompiler", self._statement.compile(dialect=dialect))
            self._compiled = str(compiled), tuple(compiled.positiontup or ())
        sql, names = self._compiled
        db_metrics.STATEMENTS.inc()
        return await connection.fetch(sql, *(params[name] for name in names))


_TAKE_ON_DRIVER = _OnDriver(_TAKE)
_MARK_PUBLISHED_ON_DRIVER = _OnDriver(_MARK_PUBLISHED)
_MARK_FAILED_ON_DRIVER = _OnDriver(_MARK_FAILED)


async def driver_connection(connection: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under a pooled one; it goes back to the pool when ``connection`` closes."""
    pooled = await connection.get_raw_connection()
    return cast("asyncpg.Connection", pooled.driver_connection)


@asynccontextmanager
async def transaction(connection: asyncpg.Connection) -> AsyncIterator[None]:
    """A transaction on the driver, committed unless the block raises; its round trips counted."""
    db_metrics.BEGINS.inc()
    try:
        async with connection.transaction():
            yield
    except BaseException:
        db_metrics.ROLLBACKS.inc()
        raise
    db_metrics.COMMITS.inc()


async def take_batch(connection: asyncpg.Connection, limit: int) -> list[PendingRow]:
    """Lock up to ``limit`` due rows, oldest due first; the locks last until the transaction ends."""
    return list(starmap(PendingRow, await _TAKE_ON_DRIVER.fetch(connection, {"limit": limit})))


async def mark_published(connection: asyncpg.Connection, ids: Sequence[int]) -> None:
    if ids:
        await _MARK_PUBLISHED_ON_DRIVER.fetch(connection, {"ids": list(ids)})


async def mark_failed(
    connection: asyncpg.Connection, failures: Sequence[Failure], *, max_attempts: int | None = None
) -> set[int]:
    """Record each failure and its backoff; returns the ids of rows that reached ``max_attempts`` now."""
    if not failures:
        return set()
    rows = await _MARK_FAILED_ON_DRIVER.fetch(
        connection,
        {
            "ids": [failure.row.id for failure in failures],
            "errors": [failure.error[:_MAX_ERROR] for failure in failures],
            "delays": [failure.delay for failure in failures],
            "max_attempts": _NO_LIMIT if max_attempts is None else max_attempts,
        },
    )
    return {row["id"] for row in rows if row["given_up"]}


async def outbox_figures(connection: AsyncConnection) -> OutboxFigures:
    """Rows pending, the age of the oldest pending one, and rows failed for good, in one query."""
    row = (await connection.execute(_FIGURES)).one()
    return OutboxFigures(
        pending=int(row.pending),
        oldest_pending_age_seconds=float(row.oldest_pending_age_seconds),
        failed=int(row.failed),
    )


async def retry_failed(connection: AsyncConnection, ids: Sequence[int] | None = None) -> int:
    """Give rows the relay gave up on (all, or those of ``ids``) a fresh start; returns how many.

    Their attempts start again from 0 and their last error stays until the next attempt. The relay is woken
    when the transaction commits.
    """
    result = await connection.execute(_RETRY_FAILED, {"ids": None if ids is None else list(ids)})
    if result.rowcount:
        await connection.execute(_NOTIFY, {"channel": OUTBOX_CHANNEL})
    return int(result.rowcount)
