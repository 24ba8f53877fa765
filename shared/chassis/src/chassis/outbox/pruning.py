"""Deleting what is no longer needed: published outbox rows and old inbox rows, in bounded chunks."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncEngine

# Only published rows go: an unpublished row is never pruned, however old.
_PRUNE_OUTBOX = text(
    """
    DELETE FROM outbox WHERE id IN (
        SELECT id FROM outbox
         WHERE published_at IS NOT NULL AND published_at < clock_timestamp() - CAST(:age AS INTERVAL)
         LIMIT :chunk
    )
    """
)

_PRUNE_INBOX = text(
    """
    DELETE FROM inbox WHERE (consumer, message_id) IN (
        SELECT consumer, message_id FROM inbox
         WHERE received_at < clock_timestamp() - CAST(:age AS INTERVAL)
         LIMIT :chunk
    )
    """
)


async def prune_outbox(engine: AsyncEngine, *, older_than: timedelta, chunk: int = 5000) -> int:
    """Delete outbox rows published longer than ``older_than`` ago; returns how many."""
    return await _prune(engine, _PRUNE_OUTBOX, older_than, chunk)


async def prune_inbox(engine: AsyncEngine, *, older_than: timedelta, chunk: int = 5000) -> int:
    """Delete inbox rows received longer than ``older_than`` ago; returns how many."""
    return await _prune(engine, _PRUNE_INBOX, older_than, chunk)


async def _prune(engine: AsyncEngine, statement: TextClause, older_than: timedelta, chunk: int) -> int:
    total = 0
    while True:
        # One short transaction per chunk: no long lock on the table, and progress survives a crash.
        async with engine.begin() as connection:
            result = await connection.execute(statement, {"age": older_than, "chunk": chunk})
        deleted = result.rowcount
        total += deleted
        if deleted < chunk:
            return total
