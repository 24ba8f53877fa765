"""What the processes and their databases counted over a step: the units of work each process did (its own
Prometheus counters on /metrics), the SQL round trips each process made (its ``folio_sql_round_trips``,
``chassis.db_metrics``) and the SQL the databases ran, so that CPU can be divided by them.

SQL is counted from ``pg_stat_statements`` where the server loads it (statements, BEGIN and COMMIT
included: one round trip each); otherwise from ``pg_stat_database``, which counts transactions and rows,
not statements, and the figures say so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import asyncpg
from prometheus_client.parser import text_string_to_metric_families

# The counter each role's unit of work is read from, and the samples of it that count.
API_REQUESTS = "folio_http_requests"  # every request answered (probes and /metrics are not counted)
WORKER_MESSAGES = "folio_consumer_messages"  # deliveries handled (not duplicates, retries or parkings)
SQL_ROUND_TRIPS = "folio_sql_round_trips"  # statements, BEGIN, COMMIT, ROLLBACK and pre-pings sent


def _counter_total(text: str, name: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == name
        for sample in family.samples
        if sample.name.endswith("_total")
    )


def _unit_total(text: str, role: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        if role == "api" and family.name == API_REQUESTS:
            total += sum(s.value for s in family.samples if s.name.endswith("_total"))
        elif role == "worker" and family.name == WORKER_MESSAGES:
            total += sum(
                s.value
                for s in family.samples
                if s.name.endswith("_total") and s.labels.get("outcome") == "handled"
            )
    return total


async def units_of_work(session: aiohttp.ClientSession, metrics_urls: dict[str, str]) -> dict[str, float]:
    """Per process (``ordering-api`` -> its /metrics URL): requests answered or messages handled so far;
    a process that does not answer is left out."""
    return await _scrape(session, metrics_urls, lambda name, text: _unit_total(text, name.rsplit("-", 1)[1]))


async def round_trips(session: aiohttp.ClientSession, metrics_urls: dict[str, str]) -> dict[str, float]:
    """Per process: the SQL round trips its engines made so far; one that does not answer is left out."""
    return await _scrape(session, metrics_urls, lambda _, text: _counter_total(text, SQL_ROUND_TRIPS))


def round_trips_per_message(
    before: dict[str, float], after: dict[str, float], units: dict[str, float]
) -> dict[str, float]:
    """Each worker's SQL round trips per message it handled (keyed ``<worker> SQL round trips``)."""
    return {
        f"{name} SQL round trips": (after[name] - before[name]) / units[name]
        for name in after
        if name.endswith("-worker") and name in before and units.get(name, 0) > 0
    }


async def _scrape(
    session: aiohttp.ClientSession, metrics_urls: dict[str, str], read: Callable[[str, str], float]
) -> dict[str, float]:
    async def one(name: str, url: str) -> tuple[str, float | None]:
        try:
            async with session.get(url) as response:
                return name, read(name, await response.text())
        except (aiohttp.ClientError, TimeoutError):
            return name, None

    found = await asyncio.gather(*(one(name, url) for name, url in metrics_urls.items()))
    return {name: value for name, value in found if value is not None}


# ------------------------------------------------------------------------------------------------- SQL

DATABASE_COUNTERS = """
SELECT xact_commit + xact_rollback AS transactions,
       tup_inserted + tup_updated + tup_deleted AS rows_written,
       tup_fetched AS rows_read
FROM pg_stat_database WHERE datname = current_database()
"""
STATEMENTS = """
SELECT coalesce(sum(calls), 0) AS statements
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
WHERE d.datname = ANY($1::text[])
"""


@dataclass(frozen=True)
class SqlCounter:
    """Reads the SQL counters of the services' databases; ``method`` says what they are."""

    database_urls: dict[str, str]
    admin_url: str | None  # a superuser's, for pg_stat_statements; None: pg_stat_database only
    method: str

    async def read(self) -> dict[str, float]:
        if self.admin_url is not None:
            names = [url.rsplit("/", 1)[1].split("?")[0] for url in self.database_urls.values()]
            connection = await asyncpg.connect(self.admin_url)
            try:
                return {"SQL statements": float(await connection.fetchval(STATEMENTS, names))}
            finally:
                await connection.close()
        totals = {"transactions": 0.0, "rows written": 0.0, "rows read": 0.0}
        for url in self.database_urls.values():
            connection = await asyncpg.connect(url)
            try:
                row = await connection.fetchrow(DATABASE_COUNTERS)
            finally:
                await connection.close()
            assert row is not None
            totals["transactions"] += row["transactions"]
            totals["rows written"] += row["rows_written"]
            totals["rows read"] += row["rows_read"]
        return totals


async def sql_counter(database_urls: dict[str, str], admin_url: str) -> SqlCounter:
    """pg_stat_statements when the server has it loaded and the extension exists, else pg_stat_database."""
    try:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.fetchval("SELECT count(*) FROM pg_stat_statements")
        finally:
            await connection.close()
    except (asyncpg.PostgresError, OSError) as error:
        reason = str(error).splitlines()[0]
        return SqlCounter(
            database_urls,
            None,
            f"pg_stat_database, transactions and rows, not statements (pg_stat_statements: {reason})",
        )
    return SqlCounter(database_urls, admin_url, "pg_stat_statements (calls, BEGIN and COMMIT included)")


def per_message(
    before: dict[str, float], after: dict[str, float], idle: dict[str, float], seconds: float, messages: float
) -> dict[str, float]:
    """Each counter's growth beyond its idle rate, per handled message."""
    if messages <= 0:
        return {}
    return {
        kind: max(0.0, after[kind] - before[kind] - idle.get(kind, 0.0) * seconds) / messages
        for kind in after
        if kind in before
    }
