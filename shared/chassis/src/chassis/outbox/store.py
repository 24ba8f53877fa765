"""The relay's statements on the outbox table: take a locked batch, mark what was confirmed or failed.

Also what the metrics read (:func:`outbox_figures`) and an operator's retry of rows the relay gave up on
(:func:`retry_failed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from itertools import starmap
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Integer, any_, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

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


async def take_batch(connection: AsyncConnection, limit: int) -> list[PendingRow]:
    """Lock up to ``limit`` due rows, oldest due first; the locks last until the transaction ends."""
    result = await connection.execute(_TAKE, {"limit": limit})
    return list(starmap(PendingRow, result))


async def mark_published(connection: AsyncConnection, ids: Sequence[int]) -> None:
    if ids:
        await connection.execute(_MARK_PUBLISHED, {"ids": list(ids)})


async def mark_failed(
    connection: AsyncConnection, failures: Sequence[Failure], *, max_attempts: int | None = None
) -> set[int]:
    """Record each failure and its backoff; returns the ids of rows that reached ``max_attempts`` now."""
    if not failures:
        return set()
    result = await connection.execute(
        _MARK_FAILED,
        {
            "ids": [failure.row.id for failure in failures],
            "errors": [failure.error[:_MAX_ERROR] for failure in failures],
            "delays": [failure.delay for failure in failures],
            "max_attempts": _NO_LIMIT if max_attempts is None else max_attempts,
        },
    )
    return {row.id for row in result if row.given_up}


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
