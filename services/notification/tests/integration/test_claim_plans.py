"""The sender's hot queries read only the rows in flight, however long the history of sent e-mails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from notification.adapters.repositories import due_query, locking, pending_count_query, stuck_query

pytestmark = pytest.mark.integration

HISTORY = 30_000
# Sent rows of the past (the history), then a few pending and a few sending ones.
FILL = """
INSERT INTO notifications (id, source_message_id, source_type, order_id, customer_id, recipient,
    template, subject, body_text, body_html, status, attempts, next_attempt_at, claimed_at, created_at,
    updated_at)
SELECT gen_random_uuid(), gen_random_uuid(), 'folio.ordering.order-confirmed.v1', gen_random_uuid(), 'u',
    'ada@example.com', 'order-confirmed', 's', 't', 'h', CAST(:status AS varchar), 1,
    now() - interval '1 day', now() - interval '1 hour', now() - interval '1 day', now() - interval '1 day'
FROM generate_series(1, :count)
"""


async def plan(engine: AsyncEngine, statement: Select[Any]) -> str:
    async with engine.connect() as connection:
        query = statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
        rows = await connection.execute(text(f"EXPLAIN {query}"))
        return "\n".join(row[0] for row in rows)


async def test_claims_and_the_pending_count_use_the_partial_indexes_beside_a_long_history(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as connection:
        for status, count in (("sent", HISTORY), ("pending", 5), ("sending", 5)):
            await connection.execute(text(FILL), {"status": status, "count": count})
        await connection.execute(text("ANALYZE notifications"))
    now = datetime.now(UTC)

    due = await plan(engine, locking(due_query(now), 20))
    stuck = await plan(engine, locking(stuck_query(now - timedelta(minutes=2)), 20))
    pending = await plan(engine, pending_count_query())

    # The index is in the claim's order: its first rows come straight from it, with no sort of the lot.
    assert "Index Scan using notifications_due" in due, due
    assert "Sort" not in due, due
    assert "Index Scan using notifications_sending" in stuck, stuck
    assert "Sort" not in stuck, stuck
    assert "Seq Scan" not in pending, pending
