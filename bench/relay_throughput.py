"""Benchmark of the outbox relay (not a test).

    .venv/bin/python bench/relay_throughput.py --rate 2000 --seconds 20 [--history 0 2000000] [--json F]

In a throwaway database and vhost (both removed afterwards) it measures, in one run:

1. the broker's raw confirmed-publish rate: aiormq publishing the same payload with confirms kept in flight
   together, no database involved: the ceiling any relay on this broker can reach. It runs in a process of
   its own and its messages are consumed as the relay's are, so that both are measured under the same load
   (a raw rate with nobody consuming, beside a drain whose every message the broker also delivers, held
   the relay to a stricter standard than the broker);
2. the relay draining a backlog (rows committed while it was stopped): its capacity. With ``--history N``
   (several values allowed) the outbox first holds N rows already published (retained history, loaded
   with ``generate_series`` and VACUUMed), and is ANALYZEd with the backlog in it, as autovacuum would have
   done; the drain is measured once per value, so the rates with and without history sit side by side;
3. the relay under a steady load: producers commit outbox rows at ``--rate`` for ``--seconds`` while the
   relay runs (as in a worker). Reported: its throughput from commit to confirmed publish, the latency from
   commit to published (confirmed by the broker and marked: the row's ``published_at``) and from commit to
   a consumer's receipt, p50 and p99. The commit time is the row's ``created_at`` (its transaction's start,
   a millisecond or so before the commit), so the latencies are slightly pessimistic.

The relay, the raw publisher and the producers run in processes of their own; the consumer in this one.
The raw publisher and its message live in ``ceilings.py``, shared with ``system_bench.py`` (`make bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import aio_pika
import uvloop
from aio_pika.abc import AbstractIncomingMessage
from ceilings import RAW_EXCHANGE, RAW_QUEUE, message, raw_publish_rate
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.db import create_chassis_tables, create_engine
from chassis.outbox import OutboxRelay, RelayOptions
from chassis.outbox.listener import APPLICATION_NAME
from chassis.tables import OUTBOX_CHANNEL, outbox
from chassis.uow import outbox_row
from testkit.resources import fresh_database, fresh_vhost

SCRIPT = os.path.abspath(__file__)
EXCHANGE = "bench.events"


@dataclass
class Steady:
    rows: int
    received: int
    distinct: int
    offered_per_s: float
    relay_rows_per_s: float
    commit_to_published_p50_ms: float
    commit_to_published_p99_ms: float
    commit_to_received_p50_ms: float
    commit_to_received_p99_ms: float


@dataclass
class Report:
    rate: float
    seconds: float
    batch_size: int
    max_in_flight: int
    raw_messages: int
    ceiling: RelayCeiling
    drain_rows: int
    steady: Steady | None
    # The relay process's CPU per row over the steady phase.
    steady_cpu_us_per_row: float = 0.0


# ---------------------------------------------------------------------------------------------------- relay


async def serve_relay(database_url: str, amqp_url: str, batch_size: int, max_in_flight: int) -> None:
    """The relay's own process: runs until SIGTERM."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    engine = create_engine(database_url, application_name="bench-relay")
    options = RelayOptions(batch_size=batch_size, max_in_flight=max_in_flight)
    try:
        await OutboxRelay(engine, amqp_url, options).run(stop)
    finally:
        await engine.dispose()


async def start_relay(
    database_url: str, amqp_url: str, batch_size: int, max_in_flight: int
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        SCRIPT,
        "--serve-relay",
        database_url,
        amqp_url,
        "--batch-size",
        str(batch_size),
        "--max-in-flight",
        str(max_in_flight),
    )


async def serve_raw(amqp_url: str, count: int, max_in_flight: int) -> None:
    """The raw publisher's own process, as the relay has one; prints its rate as JSON."""
    print(json.dumps({"per_s": await raw_publish_rate(amqp_url, count, max_in_flight)}))


async def raw_rate(amqp_url: str, count: int, max_in_flight: int) -> float:
    """The broker's raw confirmed-publish rate, from a process of its own (see ``serve_raw``)."""
    options = ["--raw-messages", str(count), "--max-in-flight", str(max_in_flight)]
    process = await asyncio.create_subprocess_exec(
        sys.executable, SCRIPT, "--serve-raw", amqp_url, *options, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"raw publisher failed ({process.returncode})")
    return float(json.loads(output.decode().strip().splitlines()[-1])["per_s"])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def stop_relay(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout=30)
    except TimeoutError:
        process.kill()
        await process.wait()


# ------------------------------------------------------------------------------------------------- consumer


class Consumer:
    def __init__(self) -> None:
        self.received: dict[str, float] = {}
        self.deliveries = 0
        # What the raw publisher sent, handled as the relay's messages are (the same work per delivery).
        self.raw_received: dict[str, float] = {}

    async def start(self, amqp_url: str) -> None:
        self.connection = await aio_pika.connect(amqp_url)
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=5000)
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue("bench.consumer", durable=True)
        await queue.bind(exchange, "#")
        await queue.consume(self._on_message, no_ack=True)
        # The raw publisher's messages are delivered too: the broker and this process work as in a drain.
        raw_exchange = await channel.declare_exchange(RAW_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        raw_queue = await channel.declare_queue(RAW_QUEUE, durable=True)
        await raw_queue.bind(raw_exchange, "#")
        await raw_queue.consume(self._on_raw_message, no_ack=True)

    async def _on_message(self, delivered: AbstractIncomingMessage) -> None:
        self.deliveries += 1
        self.received.setdefault(str(delivered.message_id), time.time())

    async def _on_raw_message(self, delivered: AbstractIncomingMessage) -> None:
        self.raw_received.setdefault(str(delivered.message_id), time.time())

    async def wait_for(self, count: int, within: float) -> None:
        await self._wait_until(lambda: len(self.received) >= count, within)

    async def wait_for_raw(self, count: int, within: float) -> None:
        await self._wait_until(lambda: len(self.raw_received) >= count, within)

    @staticmethod
    async def _wait_until(done: Callable[[], bool], within: float) -> None:
        deadline = time.monotonic() + within
        while True:
            if done() or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self.connection.close()


# ------------------------------------------------------------------------------------------------ producers


NOTIFY = text("SELECT pg_notify(:channel, '')")


async def commit_rows(engine: AsyncEngine, seqs: range) -> tuple[list[str], float]:
    """One transaction as the unit of work writes it (rows plus NOTIFY); returns the ids and commit time."""
    rows = [outbox_row(message(seq), source="bench") for seq in seqs]
    for row in rows:
        row["exchange"] = EXCHANGE
    async with engine.begin() as connection:
        await connection.execute(insert(outbox), rows)
        await connection.execute(NOTIFY, {"channel": OUTBOX_CHANNEL})
    return [str(row["message_id"]) for row in rows], time.time()


async def steady_load(
    engine: AsyncEngine, *, rate: float, seconds: float, per_commit: int, producers: int, first_seq: int
) -> tuple[int, float]:
    """Commit ``rate`` rows/s for ``seconds``; returns the rows committed and how far behind schedule."""
    total_commits = int(rate * seconds / per_commit)
    interval = per_commit / rate
    started = time.monotonic()
    next_commit = 0

    async def producer() -> None:
        nonlocal next_commit
        while next_commit < total_commits:
            index = next_commit
            next_commit += 1
            delay = started + index * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            seq = first_seq + index * per_commit
            await commit_rows(engine, range(seq, seq + per_commit))

    await asyncio.gather(*(producer() for _ in range(producers)))
    return total_commits * per_commit, max(0.0, time.monotonic() - started - seconds)


async def serve_producer(database_url: str, args: argparse.Namespace) -> None:
    """The producers' own process; prints what it did as JSON."""
    engine = create_engine(database_url, pool_size=args.producers + 1, application_name="bench-producer")
    try:
        rows, behind = await steady_load(
            engine,
            rate=args.rate,
            seconds=args.seconds,
            per_commit=args.rows_per_commit,
            producers=args.producers,
            first_seq=args.drain,
        )
    finally:
        await engine.dispose()
    print(json.dumps({"rows": rows, "behind": behind}))


async def run_producer(database_url: str, args: argparse.Namespace) -> dict[str, float]:
    options = ["--rate", str(args.rate), "--seconds", str(args.seconds), "--drain", str(args.drain)]
    options += ["--rows-per-commit", str(args.rows_per_commit), "--producers", str(args.producers)]
    process = await asyncio.create_subprocess_exec(
        sys.executable, SCRIPT, "--serve-producer", database_url, *options, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"producer failed ({process.returncode})")
    result: dict[str, float] = json.loads(output.decode().strip().splitlines()[-1])
    return result


async def steady_rows(engine: AsyncEngine, after_id: int) -> list[tuple[str, float, float]]:
    """(message id, created_at, published_at) of the steady phase's rows, as epoch seconds."""
    async with engine.connect() as connection:
        result = await connection.execute(
            select(
                outbox.c.message_id,
                func.extract("epoch", outbox.c.created_at),
                func.extract("epoch", outbox.c.published_at),
            ).where(outbox.c.id > after_id)
        )
        return [
            (str(message_id), float(created), float(published)) for message_id, created, published in result
        ]


async def last_id(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.coalesce(func.max(outbox.c.id), 0)))).scalar_one())


async def unpublished(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        query = (
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.published_at.is_(None), outbox.c.failed_at.is_(None))
        )
        return int((await connection.execute(query)).scalar_one())


async def all_published(engine: AsyncEngine) -> None:
    while True:
        if not await unpublished(engine):
            return
        await asyncio.sleep(0.02)


async def relay_listening(engine: AsyncEngine, settle: float = 0.5) -> float:
    """Wait until the relay process has started and is listening for NOTIFY; returns when (epoch)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = :name"
    )
    while True:
        async with engine.connect() as connection:
            if (await connection.execute(query, {"name": APPLICATION_NAME})).scalar_one():
                break
        await asyncio.sleep(0.01)
    listening = time.time()
    # The first pass (empty) and the first prune follow right after connecting.
    await asyncio.sleep(settle)
    return listening


# Published rows as the relay leaves them, small (the history's size on disk is not what is measured), and
# published within the retention period so the relay's pruning leaves them alone.
_LOAD_HISTORY = text(
    """
    INSERT INTO outbox (message_id, exchange, routing_key, type, body, headers, created_at, available_at,
                        published_at)
    SELECT gen_random_uuid(), :exchange, 'history', 'folio.bench.history.v1', '\\x7b7d'::bytea, '{}'::jsonb,
           t, t, t + interval '5 milliseconds'
      FROM (SELECT clock_timestamp() - interval '1 day' + n * interval '1 millisecond' AS t
              FROM generate_series(1, :rows) AS n) AS history
    """
)


async def load_history(engine: AsyncEngine, rows: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("TRUNCATE outbox"))
        if rows:
            await connection.execute(_LOAD_HISTORY, {"exchange": EXCHANGE, "rows": rows})
    # What autovacuum would soon do after such a load; done now, it does not run during the drain.
    await maintain(engine, "VACUUM ANALYZE outbox")


async def maintain(engine: AsyncEngine, statement: str) -> None:
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(statement))


@dataclass
class Drain:
    rows_per_s: float
    # The relay process's CPU per row published (from its first pass to the last row): on a shared machine
    # a steadier figure than the rate.
    cpu_us_per_row: float


async def drain(
    engine: AsyncEngine,
    database_url: str,
    amqp_url: str,
    *,
    rows: int,
    history: int,
    batch_size: int,
    max_in_flight: int,
) -> Drain:
    """A relay started on a backlog of ``rows`` rows beside ``history`` published ones."""
    started = time.monotonic()
    await load_history(engine, history)
    await commit_rows(engine, range(rows))
    # Statistics that know of the backlog, as autovacuum would have them after an outage.
    await maintain(engine, "ANALYZE outbox")
    print(f"    {history:,} published rows loaded in {time.monotonic() - started:.1f}s", file=sys.stderr)
    relay = await start_relay(database_url, amqp_url, batch_size, max_in_flight)
    try:
        # The relay's first pass starts as it begins listening: count from there.
        began = await relay_listening(engine, settle=0.0)
        cpu_before = cpu_seconds(relay.pid)
        await all_published(engine)
        elapsed, cpu = time.time() - began, cpu_seconds(relay.pid) - cpu_before
        return Drain(float(rows) / elapsed, cpu / rows * 1e6)
    finally:
        await stop_relay(relay)


@dataclass
class RelayCeiling:
    raw_confirmed_per_s: float
    # Retained published rows -> the drain beside that history.
    drains: dict[int, Drain]

    def percent_of_raw(self, history: int) -> float:
        return 100.0 * self.drains[history].rows_per_s / self.raw_confirmed_per_s


# Issue #12: the relay drains at >= 80% of the broker's raw confirmed-publish rate, with and without history.
GOAL_PERCENT = 80.0


async def measure_ceiling(
    engine: AsyncEngine,
    database_url: str,
    amqp_url: str,
    consumer: Consumer,
    *,
    rows: int,
    histories: list[int],
    batch_size: int,
    max_in_flight: int,
    raw_messages: int,
) -> RelayCeiling:
    """The broker's raw rate, then one drain of ``rows`` per history, back to back."""
    print(f"relay ceiling: raw broker, {raw_messages} confirmed publishes ...", file=sys.stderr)
    consumer.raw_received.clear()
    raw = await raw_rate(amqp_url, raw_messages, max_in_flight)
    # The drain starts once the raw messages are delivered, not while the broker still delivers them.
    await consumer.wait_for_raw(raw_messages, within=60)
    drains = {}
    for history in histories:
        print(f"relay ceiling: backlog of {rows} rows beside {history:,} published ...", file=sys.stderr)
        consumer.received.clear()
        drains[history] = await drain(
            engine,
            database_url,
            amqp_url,
            rows=rows,
            history=history,
            batch_size=batch_size,
            max_in_flight=max_in_flight,
        )
        await consumer.wait_for(rows, within=60)
    return RelayCeiling(raw, drains)


async def relay_against_raw(
    *,
    rows: int = 20_000,
    histories: list[int],
    raw_messages: int = 20_000,
    batch_size: int = 500,
    max_in_flight: int = 500,
) -> RelayCeiling:
    """``measure_ceiling`` in a throwaway database and vhost (removed afterwards)."""
    async with (
        fresh_database("folio_bench_relay") as database_url,
        fresh_vhost("folio_bench_relay") as amqp_url,
    ):
        engine = create_engine(database_url)
        consumer = Consumer()
        try:
            await create_chassis_tables(engine)
            await consumer.start(amqp_url)
            return await measure_ceiling(
                engine,
                database_url,
                amqp_url,
                consumer,
                rows=rows,
                histories=histories,
                batch_size=batch_size,
                max_in_flight=max_in_flight,
                raw_messages=raw_messages,
            )
        finally:
            await consumer.close()
            await engine.dispose()


def ceiling_lines(ceiling: RelayCeiling) -> list[str]:
    """The drains against the raw rate, and whether the goal is met."""
    lines = []
    for history, result in ceiling.drains.items():
        percent = ceiling.percent_of_raw(history)
        verdict = "met" if percent >= GOAL_PERCENT else "NOT met"
        lines.append(
            f"relay drain beside {history:,} published rows: {result.rows_per_s:,.0f} rows/s = "
            f"{percent:.0f}% of the broker's raw {ceiling.raw_confirmed_per_s:,.0f} msg/s "
            f"({result.cpu_us_per_row:,.0f} µs "
            f"relay CPU/row): goal >= {GOAL_PERCENT:.0f}% {verdict}"
        )
    return lines


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --------------------------------------------------------------------------------------------------- the run


async def bench(args: argparse.Namespace) -> Report:
    async with fresh_database("folio_bench") as database_url, fresh_vhost("folio_bench") as amqp_url:
        engine = create_engine(database_url)
        await create_chassis_tables(engine)
        consumer = Consumer()
        await consumer.start(amqp_url)
        relay: asyncio.subprocess.Process | None = None
        try:
            raw_count = args.raw_messages or max(20_000, int(args.rate * args.seconds))
            ceiling = await measure_ceiling(
                engine,
                database_url,
                amqp_url,
                consumer,
                rows=args.drain,
                histories=args.history,
                batch_size=args.batch_size,
                max_in_flight=args.max_in_flight,
                raw_messages=raw_count,
            )
            drained = set(consumer.received)
            after_id = await last_id(engine)
            report = Report(
                rate=args.rate,
                seconds=args.seconds,
                batch_size=args.batch_size,
                max_in_flight=args.max_in_flight,
                raw_messages=raw_count,
                ceiling=ceiling,
                drain_rows=args.drain,
                steady=None,
            )
            if args.seconds <= 0:
                return report

            relay = await start_relay(database_url, amqp_url, args.batch_size, args.max_in_flight)
            await relay_listening(engine)
            cpu_before = cpu_seconds(relay.pid)
            print(f"3/3 steady: {args.rate:g} rows/s for {args.seconds:g}s ...", file=sys.stderr)
            produced = await run_producer(database_url, args)
            if produced["behind"] > 0.5:
                print(f"note: the producers fell {produced['behind']:.1f}s behind", file=sys.stderr)
            await consumer.wait_for(args.drain + int(produced["rows"]), within=120)
            await all_published(engine)
            report.steady_cpu_us_per_row = (cpu_seconds(relay.pid) - cpu_before) / produced["rows"] * 1e6
            rows = await steady_rows(engine, after_id)
        finally:
            if relay is not None:
                await stop_relay(relay)
            await consumer.close()
            await engine.dispose()

    received = consumer.received
    to_published = [(published - created) * 1000 for _, created, published in rows]
    to_received = [(received[i] - created) * 1000 for i, created, _ in rows if i in received]
    received_steady = [i for i in received if i not in drained]
    first_created = min(created for _, created, _ in rows)
    report.steady = Steady(
        rows=len(rows),
        received=len(received_steady),
        distinct=len({i for i, _, _ in rows} & set(received_steady)),
        offered_per_s=len(rows) / (max(created for _, created, _ in rows) - first_created),
        relay_rows_per_s=len(rows) / (max(published for _, _, published in rows) - first_created),
        commit_to_published_p50_ms=statistics.median(to_published),
        commit_to_published_p99_ms=percentile(to_published, 0.99),
        commit_to_received_p50_ms=statistics.median(to_received),
        commit_to_received_p99_ms=percentile(to_received, 0.99),
    )
    return report


def print_table(report: Report) -> None:
    ceiling = report.ceiling
    lines = [
        ("broker raw confirmed publishes (no DB)", f"{ceiling.raw_confirmed_per_s:,.0f} msg/s"),
        *(
            (
                f"relay backlog drain beside {history:,} published rows",
                f"{result.rows_per_s:,.0f} rows/s ({ceiling.percent_of_raw(history):.0f}% of raw), "
                f"{result.cpu_us_per_row:,.0f} µs CPU/row",
            )
            for history, result in ceiling.drains.items()
        ),
    ]
    steady = report.steady
    if steady is not None:
        lines += [
            ("steady load offered", f"{steady.offered_per_s:,.0f} rows/s ({steady.rows:,} rows)"),
            ("steady relay throughput (commit -> published)", f"{steady.relay_rows_per_s:,.0f} rows/s"),
            (
                "commit -> confirmed+marked  p50 / p99",
                f"{steady.commit_to_published_p50_ms:.1f} ms / {steady.commit_to_published_p99_ms:.1f} ms",
            ),
            (
                "commit -> consumer receipt  p50 / p99",
                f"{steady.commit_to_received_p50_ms:.1f} ms / {steady.commit_to_received_p99_ms:.1f} ms",
            ),
            ("steady messages received / distinct", f"{steady.received:,} / {steady.distinct:,}"),
            ("relay CPU per row, steady", f"{report.steady_cpu_us_per_row:,.0f} µs"),
        ]
    width = max(len(name) for name, _ in lines)
    print(
        f"outbox relay benchmark: batch {report.batch_size}, in flight {report.max_in_flight}, "
        f"{report.rate:g} rows/s for {report.seconds:g}s"
    )
    print(f"{'metric':<{width}}  value")
    print(f"{'-' * width}  {'-' * 28}")
    for name, value in lines:
        print(f"{name:<{width}}  {value}")
    for line in ceiling_lines(ceiling):
        print(line)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=2000, help="rows committed per second (steady phase)")
    parser.add_argument(
        "--seconds", type=float, default=20, help="length of the steady phase (0: no steady phase)"
    )
    parser.add_argument("--rows-per-commit", type=int, default=5)
    parser.add_argument("--producers", type=int, default=8, help="concurrent producer transactions")
    parser.add_argument("--drain", type=int, default=20_000, help="backlog rows for the drain phase")
    parser.add_argument(
        "--history",
        type=int,
        nargs="+",
        default=[0],
        metavar="N",
        help="published rows retained beside the backlog; one drain per value (e.g. --history 0 2000000)",
    )
    parser.add_argument(
        "--raw-messages", type=int, default=0, help="raw publishes (default: max(20000, load))"
    )
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--max-in-flight", type=int, default=500)
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument(
        "--serve-relay", nargs=2, metavar=("DATABASE_URL", "AMQP_URL"), help=argparse.SUPPRESS
    )
    parser.add_argument("--serve-producer", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--serve-raw", metavar="AMQP_URL", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.serve_relay:
        database_url, amqp_url = args.serve_relay
        uvloop.run(serve_relay(database_url, amqp_url, args.batch_size, args.max_in_flight))
        return
    if args.serve_producer:
        uvloop.run(serve_producer(args.serve_producer, args))
        return
    if args.serve_raw:
        uvloop.run(serve_raw(args.serve_raw, args.raw_messages, args.max_in_flight))
        return
    # Every process on uvloop, as every role runs: the relay and the raw publisher it is compared with.
    report = uvloop.run(bench(args))
    print_table(report)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(asdict(report), out, indent=2)


if __name__ == "__main__":
    main()
