"""The relay's statements on the outbox table: take a locked batch, mark what was confirmed or failed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, any_, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from chassis.tables import outbox


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


_TAKE = (
    select(
        outbox.c.id,
        outbox.c.message_id,
        outbox.c.exchange,
        outbox.c.routing_key,
        outbox.c.type,
        outbox.c.body,
        outbox.c.headers,
        outbox.c.created_at,
        outbox.c.attempts,
    )
    .where(outbox.c.published_at.is_(None), outbox.c.available_at <= text("now()"))
    .order_by(outbox.c.id)
    .limit(bindparam("limit"))
    # Rows another relay holds are skipped, not waited for: two relays share the work and never a row.
    .with_for_update(skip_locked=True)
)

# clock_timestamp(), not now(): now() is when the transaction began, before the publishes.
_MARK_PUBLISHED = (
    update(outbox)
    .where(outbox.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))))
    .values(published_at=text("clock_timestamp()"))
)

_MARK_FAILED = text(
    """
    UPDATE outbox
       SET attempts = outbox.attempts + 1,
           last_error = failed.error,
           available_at = clock_timestamp() + make_interval(secs => failed.delay)
      FROM unnest(CAST(:ids AS BIGINT[]), CAST(:errors AS TEXT[]), CAST(:delays AS DOUBLE PRECISION[]))
           AS failed(id, error, delay)
     WHERE outbox.id = failed.id
    """
)

# Errors can be long (a broker's close reason plus a traceback-ish repr); the column is for humans.
_MAX_ERROR = 2000


async def take_batch(connection: AsyncConnection, limit: int) -> list[PendingRow]:
    """Lock up to ``limit`` publishable rows in id order; the locks last until the transaction ends."""
    result = await connection.execute(_TAKE, {"limit": limit})
    return [PendingRow(**row._mapping) for row in result]


async def mark_published(connection: AsyncConnection, ids: Sequence[int]) -> None:
    if ids:
        await connection.execute(_MARK_PUBLISHED, {"ids": list(ids)})


async def mark_failed(connection: AsyncConnection, failures: Sequence[Failure]) -> None:
    if failures:
        await connection.execute(
            _MARK_FAILED,
            {
                "ids": [failure.row.id for failure in failures],
                "errors": [failure.error[:_MAX_ERROR] for failure in failures],
                "delays": [failure.delay for failure in failures],
            },
        )
