"""The chassis' hot queries walk their indexes beside a large history, once PostgreSQL has analysed it:
the relay's take, the outbox figures, and the pruning of the outbox, the inbox and the idempotency keys.
(Timings on a million rows: ``bench/outbox_query_plans.py``.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.db import create_chassis_tables, create_engine
from chassis.http.idempotency import _PRUNE_KEYS
from chassis.outbox.pruning import _PRUNE_INBOX, _PRUNE_OUTBOX
from chassis.outbox.store import _FIGURES, _TAKE

pytestmark = pytest.mark.integration

HISTORY = 60_000
PENDING = 3_000

_LOAD = (
    # Published within the retention, but for every hundredth row, published long ago.
    """
    INSERT INTO outbox (message_id, exchange, routing_key, type, body, headers, created_at, available_at,
                        published_at)
    SELECT gen_random_uuid(), 'x.events', 'k', 't', '\\x7b7d'::bytea, '{}'::jsonb, t, t, t
      FROM (SELECT now() - CASE WHEN n % 100 = 0 THEN interval '10 days' ELSE interval '1 day' END AS t
              FROM generate_series(1, :history) AS n) AS history
    """,
    """
    INSERT INTO outbox (message_id, exchange, routing_key, type, body, headers, failed_at)
    SELECT gen_random_uuid(), 'x.events', 'k', 't', '\\x7b7d'::bytea, '{}'::jsonb,
           CASE WHEN n % 100 = 0 THEN now() END
      FROM generate_series(1, :pending) AS n
    """,
    """
    INSERT INTO inbox (consumer, message_id, message_type, received_at)
    SELECT 'c', gen_random_uuid(), 't',
           now() - CASE WHEN n % 100 = 0 THEN interval '40 days' ELSE interval '1 day' END
      FROM generate_series(1, :history) AS n
    """,
    """
    INSERT INTO idempotency_keys (principal, key, method, path, request_hash, created_at)
    SELECT 'p' || (n % 100), 'k' || n, 'POST', '/', 'h',
           now() - CASE WHEN n % 100 = 0 THEN interval '3 days' ELSE interval '1 hour' END
      FROM generate_series(1, :history) AS n
    """,
)


@pytest.fixture(scope="module")
async def engine() -> AsyncIterator[AsyncEngine]:
    from testkit.resources import fresh_database

    async with fresh_database() as database_url:
        engine = create_engine(database_url)
        try:
            await create_chassis_tables(engine)
            async with engine.begin() as connection:
                for statement in _LOAD:
                    await connection.execute(text(statement), {"history": HISTORY, "pending": PENDING})
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text("VACUUM ANALYZE"))
            yield engine
        finally:
            await engine.dispose()


async def scans(engine: AsyncEngine, statement: TextClause, params: dict[str, Any]) -> list[str]:
    """The scans of the plan PostgreSQL chooses for ``statement``, as "<node type>[ using <index>]"."""
    async with engine.connect() as connection:
        result = await connection.execute(text("EXPLAIN (FORMAT JSON) " + statement.text), params)
        plan = result.scalar_one()[0]["Plan"]

    def walk(node: dict[str, Any]) -> list[str]:
        found = []
        if "Scan" in node["Node Type"] and node["Node Type"] != "Subquery Scan":
            index = f" using {node['Index Name']}" if "Index Name" in node else ""
            found.append(f"{node['Node Type']}{index}")
        for child in node.get("Plans", []):
            found.extend(walk(child))
        return found

    return walk(plan)


async def test_the_relay_takes_its_batch_by_an_index_scan_of_outbox_due(engine: AsyncEngine) -> None:
    batch = _TAKE.params(limit=500).compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    assert await scans(engine, text(str(batch)), {}) == ["Index Scan using outbox_due"]


async def test_the_figures_read_only_the_pending_and_failed_rows(engine: AsyncEngine) -> None:
    found = await scans(engine, _FIGURES, {})
    assert not [scan for scan in found if scan.startswith("Seq Scan")]
    assert {scan.split(" using ")[1] for scan in found if " using " in scan} == {
        "outbox_due",
        "outbox_failed",
    }


@pytest.mark.parametrize(
    ("statement", "age", "index"),
    [
        (_PRUNE_OUTBOX, timedelta(days=7), "outbox_published_at"),
        (_PRUNE_INBOX, timedelta(days=30), "inbox_received_at"),
        (_PRUNE_KEYS, timedelta(hours=24), "idempotency_keys_created_at"),
    ],
    ids=["outbox", "inbox", "idempotency keys"],
)
async def test_pruning_finds_old_rows_by_the_index_on_their_age_and_deletes_them_by_tid(
    engine: AsyncEngine, statement: TextClause, age: timedelta, index: str
) -> None:
    found = await scans(engine, statement, {"age": age, "chunk": 5000})
    assert found == [f"Index Scan using {index}", "Tid Scan"]
