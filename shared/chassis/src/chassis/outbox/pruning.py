"""Deleting what is no longer needed: published outbox rows and old inbox rows, in bounded chunks.

Each statement's inner SELECT walks an index on its age column (``outbox_published_at``,
``inbox_received_at``), so a chunk costs the same however much is retained.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncEngine

# Only published rows go: an unpublished row is never pruned, however old. The rows are found through the
# index on their age (now(), not the volatile clock_timestamp(), so that the index can be used) and deleted
# by their ctid (a TID scan); with "id IN (subquery)" the planner reads the whole table to join them.
_PRUNE_OUTBOX = text(
    """
    DELETE FROM outbox WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM outbox
         WHERE published_at IS NOT NULL AND published_at < now() - CAST(:age AS INTERVAL)
         LIMIT :chunk
    ))
    """
)

_PRUNE_INBOX = text(
    """
    DELETE FROM inbox WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM inbox WHERE received_at < now() - CAST(:age AS INTERVAL) LIMIT :chunk
    ))
    """
)


async def prune_outbox(engine: AsyncEngine, *, older_than: timedelta, chunk: int = 5000) -> int:
    """Delete outbox rows published longer than ``older_than`` ago; returns how many."""
    return await delete_in_chunks(engine, _PRUNE_OUTBOX, older_than, chunk)


async def prune_inbox(engine: AsyncEngine, *, older_than: timedelta, chunk: int = 5000) -> int:
    """Delete inbox rows received longer than ``older_than`` ago; returns how many."""
    return await delete_in_chunks(engine, _PRUNE_INBOX, older_than, chunk)


async def delete_in_chunks(
    engine: AsyncEngine, statement: TextClause, older_than: timedelta, chunk: int
) -> int:
    """Run ``statement`` (a DELETE of at most ``:chunk`` rows older than ``:age``) until it deletes fewer."""
    total = 0
    while True:
        # One short transaction per chunk: no long lock on the table, and progress survives a crash.
        async with engine.begin() as connection:
            result = await connection.execute(statement, {"age": older_than, "chunk": chunk})
        deleted = result.rowcount
        total += deleted
        if deleted < chunk:
            return total
