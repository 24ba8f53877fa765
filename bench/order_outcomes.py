"""A step's outcomes read from ordering's read model (the ``order_summaries`` view) in its own database:
a count while waiting, then one query for the whole step, however many orders it placed (the API's list
would take a call per hundred)."""

from __future__ import annotations

import asyncpg

from loadgenerator.outcomes import SETTLED, Outcome

PROGRESS = """
SELECT count(*) AS orders, count(*) FILTER (WHERE status = ANY($2::text[])) AS settled
FROM order_summaries WHERE customer_id = $1
"""
OUTCOMES = """
SELECT order_id, status, placed_at, last_change_at FROM order_summaries WHERE customer_id = $1
"""


class DatabaseOutcomes:
    def __init__(self, ordering_database_url: str) -> None:
        self.url = ordering_database_url

    async def progress(self, customer: str) -> tuple[int, int]:
        connection = await asyncpg.connect(self.url)
        try:
            row = await connection.fetchrow(PROGRESS, customer, sorted(SETTLED))
        finally:
            await connection.close()
        assert row is not None
        return int(row["orders"]), int(row["settled"])

    async def outcomes(self, customer: str) -> list[Outcome]:
        connection = await asyncpg.connect(self.url)
        try:
            rows = await connection.fetch(OUTCOMES, customer)
        finally:
            await connection.close()
        return [
            Outcome(str(r["order_id"]), str(r["status"]), r["placed_at"], r["last_change_at"]) for r in rows
        ]
