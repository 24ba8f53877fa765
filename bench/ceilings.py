"""What the infrastructure alone does on this machine: the ceilings the services' figures are read against.

Shared by ``relay_throughput.py`` (the relay against the raw broker) and ``system_bench.py`` (`make bench`).

- ``raw_publish_rate``: confirmed persistent publishes per second of a Folio-sized event, straight from
  aiormq with confirms kept in flight together, no database: the most any relay can get from this broker.
- ``postgres_commit_rate``: single-row INSERT + COMMIT transactions per second over several connections
  (pgbench when installed, else an asyncpg loop): the most any unit of work can get from this server.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar
from uuid import uuid4

import aio_pika
import aiormq
import asyncpg

from chassis.outbox.publisher import properties
from chassis.outbox.store import PendingRow
from chassis.uow import outbox_row
from contracts.base import Event
from testkit.resources import fresh_database

RAW_EXCHANGE = "bench.raw"
RAW_QUEUE = "bench.raw"


class BookPriced(Event):
    """A message the size of a typical Folio event."""

    TYPE: ClassVar[str] = "folio.bench.book-priced.v1"
    OWNER: ClassVar[str] = "bench"
    SUBJECT: ClassVar[str] = "book_id"
    book_id: str
    seq: int
    title: str
    price: str
    currency: str


def message(seq: int) -> BookPriced:
    return BookPriced(
        book_id=f"0190f0c4-7a1e-7c3b-9a52-{seq:012d}",
        seq=seq,
        title="The Left Hand of Darkness",
        price="12.90",
        currency="EUR",
    )


async def raw_publish_rate(amqp_url: str, count: int, in_flight: int) -> float:
    """Confirmed publishes per second of the same message, straight from aiormq (under aio-pika).

    The same publish the relay makes: its properties (``publisher.properties``, built per message as the
    relay builds them) and ``wait=False`` (queued for the connection's writer, the confirm awaited), so that
    neither a client-side cost the relay avoids nor a property it sends and this would not is counted
    against the broker.
    """
    row = outbox_row(message(0), source="bench")
    created_at = datetime.now(UTC)
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(RAW_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(RAW_QUEUE, durable=True)
        await queue.bind(exchange, "#")
        underlay = await channel.get_underlay_channel()
        assert isinstance(underlay, aiormq.Channel)
        limit = asyncio.Semaphore(in_flight)

        async def publish_one(seq: int) -> None:
            pending = PendingRow(
                id=seq,
                message_id=uuid4(),
                exchange=RAW_EXCHANGE,
                routing_key=row["routing_key"],
                type=row["type"],
                body=row["body"],
                headers=row["headers"],
                created_at=created_at,
                attempts=0,
            )
            async with limit:
                await underlay.basic_publish(
                    pending.body,
                    exchange=RAW_EXCHANGE,
                    routing_key=pending.routing_key,
                    properties=properties(pending, pending.headers),
                    wait=False,
                )

        started = time.perf_counter()
        await asyncio.gather(*(publish_one(seq) for seq in range(count)))
        elapsed = time.perf_counter() - started
        await queue.purge()
        return count / elapsed
    finally:
        await connection.close()


@dataclass(frozen=True)
class CommitRate:
    per_second: float
    method: str


TABLE = "CREATE TABLE bench_commits (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())"
INSERT = "INSERT INTO bench_commits DEFAULT VALUES"


async def _settings(database_url: str) -> str:
    connection = await asyncpg.connect(database_url)
    try:
        sync = await connection.fetchval("SHOW synchronous_commit")
        fsync = await connection.fetchval("SHOW fsync")
        await connection.execute(TABLE)
    finally:
        await connection.close()
    return f"synchronous_commit={sync}, fsync={fsync}"


def _pgbench(pgbench: str, database_url: str, connections: int, seconds: float) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write(INSERT + ";\n")
        script.flush()
        argv = [pgbench, "-n", "-M", "prepared", "-f", script.name, "-c", str(connections), "-j", "2"]
        argv += ["-T", str(max(1, round(seconds))), database_url]
        out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    found = re.search(r"tps = ([0-9.]+)", out)
    if found is None:
        raise RuntimeError(f"no tps in pgbench's output:\n{out}")
    return float(found.group(1))


async def _asyncpg_loop(database_url: str, connections: int, seconds: float) -> float:
    """Each connection commits one-row transactions back to back (autocommit: one statement, one commit)."""
    pool = await asyncpg.create_pool(database_url, min_size=connections, max_size=connections)
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        async with pool.acquire() as connection:
            while time.perf_counter() < deadline:
                await connection.execute(INSERT)
                done += 1

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return done / (time.perf_counter() - started)
    finally:
        await pool.close()


async def postgres_commit_rate(connections: int = 8, seconds: float = 5.0) -> CommitRate:
    """In a throwaway database (dropped afterwards)."""
    async with fresh_database("folio_bench_commits") as database_url:
        settings = await _settings(database_url)
        pgbench = shutil.which("pgbench")
        if pgbench is not None:
            rate = await asyncio.to_thread(_pgbench, pgbench, database_url, connections, seconds)
            tool = f"pgbench -c {connections}"
        else:
            rate = await _asyncpg_loop(database_url, connections, seconds)
            tool = f"asyncpg, {connections} connections"
    return CommitRate(rate, f"{tool}, one-row INSERT per transaction, {settings}")
