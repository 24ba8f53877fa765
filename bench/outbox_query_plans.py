"""The plans and timings of the chassis' hot queries on a large table (not a test).

    .venv/bin/python bench/outbox_query_plans.py [--published 1000000] [--pending 100000]

In a throwaway database it loads ``--published`` published outbox rows and ``--pending`` pending ones (and as
many inbox rows and idempotency keys, a hundredth of them past retention), ANALYZEs, and prints for each
hot query the plan PostgreSQL chooses and its execution time (EXPLAIN ANALYZE; deletes roll back). Then it
marks pending rows published batch after batch, as the relay does, and times the take query again: the dead
index entries a drain leaves behind must not make each batch slower than the last.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chassis.db import create_chassis_tables, create_engine
from chassis.http.idempotency import _PRUNE_KEYS
from chassis.outbox.pruning import _PRUNE_INBOX, _PRUNE_OUTBOX
from chassis.outbox.store import _FIGURES, _TAKE
from testkit.resources import fresh_database

BATCH = 500

_LOAD = (
    # Published a day ago (inside the 7-day retention), except a hundredth published 10 days ago.
    """
    INSERT INTO outbox (message_id, exchange, routing_key, type, body, headers, created_at, available_at,
                        published_at)
    SELECT gen_random_uuid(), 'bench.events', 'k', 'folio.bench.history.v1', '\\x7b7d'::bytea, '{}'::jsonb,
           t, t, t + interval '5 milliseconds'
      FROM (SELECT clock_timestamp() - CASE WHEN n % 100 = 0 THEN interval '10 days' ELSE interval '1 day' END
                   + n * interval '1 millisecond' AS t
              FROM generate_series(1, :published) AS n) AS history
    """,
    """
    INSERT INTO outbox (message_id, exchange, routing_key, type, body, headers)
    SELECT gen_random_uuid(), 'bench.events', 'k', 'folio.bench.pending.v1', '\\x7b7d'::bytea, '{}'::jsonb
      FROM generate_series(1, :pending)
    """,
    """
    INSERT INTO inbox (consumer, message_id, message_type, received_at)
    SELECT 'bench.consumer', gen_random_uuid(), 'folio.bench.history.v1',
           clock_timestamp() - CASE WHEN n % 100 = 0 THEN interval '40 days' ELSE interval '1 day' END
      FROM generate_series(1, :published) AS n
    """,
    """
    INSERT INTO idempotency_keys (principal, key, method, path, request_hash, created_at)
    SELECT 'customer-' || (n % 1000), 'key-' || n, 'POST', '/api/v1/orders', 'h',
           clock_timestamp() - CASE WHEN n % 100 = 0 THEN interval '3 days' ELSE interval '1 hour' END
      FROM generate_series(1, :published) AS n
    """,
)

_QUERIES: dict[str, tuple[TextClause, dict[str, Any]]] = {
    "outbox figures (metrics)": (_FIGURES, {}),
    "outbox prune (chunk of 5000)": (_PRUNE_OUTBOX, {"age": timedelta(days=7), "chunk": 5000}),
    "inbox prune (chunk of 5000)": (_PRUNE_INBOX, {"age": timedelta(days=30), "chunk": 5000}),
    "idempotency prune (chunk of 5000)": (_PRUNE_KEYS, {"age": timedelta(hours=24), "chunk": 5000}),
}

_MARK_BATCH = text(
    """
    UPDATE outbox SET published_at = clock_timestamp()
     WHERE id IN (SELECT id FROM outbox WHERE published_at IS NULL AND failed_at IS NULL
                   ORDER BY available_at, id LIMIT :limit)
    """
)


async def explain(
    connection: AsyncConnection, statement: TextClause, params: dict[str, Any]
) -> dict[str, Any]:
    """EXPLAIN ANALYZE in a transaction that is rolled back, so deletes delete nothing."""
    transaction = await connection.begin()
    try:
        explained = text("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement.text)
        result = await connection.execute(explained, params)
        plan: dict[str, Any] = result.scalar_one()[0]
        return plan
    finally:
        await transaction.rollback()


def scans(node: dict[str, Any]) -> list[str]:
    """Every scan in the plan, as "<node type> [using <index>] on <table>"."""
    found = []
    if "Scan" in node["Node Type"]:
        index = f" using {node['Index Name']}" if "Index Name" in node else ""
        found.append(f"{node['Node Type']}{index} on {node.get('Relation Name', '?')}")
    for child in node.get("Plans", []):
        found.extend(scans(child))
    return found


async def load(engine: AsyncEngine, published: int, pending: int) -> None:
    started = time.monotonic()
    async with engine.begin() as connection:
        for statement in _LOAD:
            await connection.execute(text(statement), {"published": published, "pending": pending})
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        # What autovacuum does to a table this size soon after the load.
        await connection.execute(text("VACUUM ANALYZE"))
    print(f"loaded and analysed in {time.monotonic() - started:.1f}s", file=sys.stderr)


async def run(args: argparse.Namespace) -> None:
    async with fresh_database("folio_plans") as database_url:
        engine = create_engine(database_url)
        try:
            await create_chassis_tables(engine)
            await load(engine, args.published, args.pending)
            print(f"{args.published:,} published + {args.pending:,} pending outbox rows, VACUUM ANALYZEd")
            compiled = _TAKE.params(limit=BATCH).compile(
                dialect=engine.dialect, compile_kwargs={"literal_binds": True}
            )
            take = text(str(compiled))
            queries = {"relay take (batch of 500)": (take, {"limit": BATCH}), **_QUERIES}
            async with engine.connect() as connection:
                for name, (statement, params) in queries.items():
                    plan = await explain(connection, statement, params)
                    print(f"{name:<34} {plan['Execution Time']:8.3f} ms  {'; '.join(scans(plan['Plan']))}")

                print(f"draining {args.drain_batches} batches of {BATCH} (marked published, no vacuum):")
                for batch in range(1, args.drain_batches + 1):
                    async with connection.begin():
                        await connection.execute(_MARK_BATCH, {"limit": BATCH})
                    if batch in (1, args.drain_batches // 2, args.drain_batches):
                        plan = await explain(connection, take, {})
                        print(f"  after {batch * BATCH:>7,} rows: take {plan['Execution Time']:.3f} ms")
        finally:
            await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--published", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--drain-batches", type=int, default=100)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
