"""Benchmark of the notification sender's claim queries on a long history (not a test).

    .venv/bin/python bench/notification_claim_plan.py [--sent 1000000] [--pending 20]

In a throwaway database migrated to head it inserts ``--sent`` notifications already ``sent`` (the history a
service keeps) and ``--pending`` due ones plus as many ``sending``, analyses the table, and prints the plan
and the time of the sender's two locking scans (``lock_due``, ``lock_stuck``) and of the pending count behind
``folio_notification_pending``, exactly as the service runs them.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, text
from sqlalchemy.engine import Dialect

from chassis.db import create_engine
from chassis.migrations import upgrade_to_head
from notification.adapters.repositories import due_query, locking, pending_count_query, stuck_query
from notification.entrypoints.definition import MIGRATIONS_DIR
from testkit.resources import fresh_database

FILL = """
INSERT INTO notifications (id, source_message_id, source_type, order_id, customer_id, recipient,
    template, subject, body_text, body_html, status, attempts, next_attempt_at, claimed_at, created_at,
    updated_at, sent_at)
SELECT gen_random_uuid(), gen_random_uuid(), 'folio.ordering.order-confirmed.v1', gen_random_uuid(),
    'user-' || (n % 1000), 'ada@example.com', 'order-confirmed', 'Your order', repeat('text ', 40),
    repeat('<p>html</p>', 20), CAST(:status AS varchar), 1, now() - interval '1 day' + n * interval '1 ms',
    CASE WHEN CAST(:status AS varchar) = 'sending' THEN now() - interval '1 hour' END,
    now() - interval '1 day', now() - interval '1 day',
    CASE WHEN CAST(:status AS varchar) = 'sent' THEN now() END
FROM generate_series(1, :count) AS n
"""


def sql(statement: Select[Any], dialect: Dialect) -> str:
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


async def run(sent: int, pending: int) -> None:
    async with fresh_database("bench_notification_claim") as url:
        await upgrade_to_head(MIGRATIONS_DIR, url)
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with engine.begin() as connection:
                for status, count in (("sent", sent), ("pending", pending), ("sending", pending)):
                    await connection.execute(text(FILL), {"status": status, "count": count})
            async with engine.connect() as connection:
                await connection.execute(text("ANALYZE notifications"))
                now = datetime.now(UTC)
                dialect = connection.dialect
                queries = {
                    "lock_due": sql(locking(due_query(now), 20), dialect),
                    "lock_stuck": sql(locking(stuck_query(now - timedelta(minutes=2)), 20), dialect),
                    "pending_count": sql(pending_count_query(), dialect),
                }
                print(f"{sent} sent, {pending} pending, {pending} sending")
                for name, query in queries.items():
                    plan = await connection.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {query}"))
                    started = time.perf_counter()
                    for _ in range(20):
                        await connection.execute(text(query))
                    elapsed = (time.perf_counter() - started) / 20 * 1000
                    print(f"\n{name}: {elapsed:.2f} ms per run")
                    print("\n".join(f"  {row[0]}" for row in plan))
                await connection.rollback()
        finally:
            await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sent", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(run(args.sent, args.pending))


if __name__ == "__main__":
    main()
