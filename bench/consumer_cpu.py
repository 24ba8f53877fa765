"""CPU per handled message of a worker's consumer (not a test).

    .venv/bin/python bench/consumer_cpu.py [--messages 5000] [--prefetch 16] [--runs 3]

In a throwaway database and vhost (both removed afterwards; where the broker's management API does not
answer, the default vhost, with this benchmark's queues and exchanges deleted before and after) each run
publishes ``--messages`` events through the real broker (confirmed, while no consumer runs, so they wait
as a backlog), then starts the chassis' real worker broker (``build_broker``: envelope, validation, inbox
claim, unit of work, a handler that writes one row and one outbox message and commits) and measures,
from its start until the last message is handled: the CPU time of this process (``time.process_time``:
every thread, user and system) per handled message, the SQL round trips per handled message
(``chassis.db_metrics``; the engine is the chassis' own, as a service's: its pool options and counter)
and the messages handled per second. The broker is built as the runner builds it (its tracing and
metrics middlewares, spans recorded by an SDK provider that exports nowhere, FastStream's per-message
log lines below the logger's level), on uvloop as the workers run (``--loop asyncio`` for asyncio's own
loop, which the figures before the eleventh session were measured on). The broker's start (connection,
topology) is inside the measurement, a fixed cost of a few milliseconds beside the drain. The median of the
runs is printed last.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import ClassVar

import aio_pika
import httpx
import uvloop
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert

from chassis.db import create_engine, session_factory
from chassis.db_metrics import round_trips_so_far
from chassis.messaging.consumer import Subscription
from chassis.messaging.topology import consumer_queues, events_exchange, internal_exchange
from chassis.messaging.worker import ServiceBroker, build_broker
from chassis.observability.metrics import broker_metrics_middleware
from chassis.observability.tracing import telemetry_middleware
from chassis.tables import metadata as chassis_metadata
from chassis.uow import UnitOfWork
from contracts.base import Event
from contracts.envelope import Envelope
from testkit.resources import fresh_database, fresh_vhost, management_client
from testkit.servers import test_servers


class Tick(Event):
    TYPE: ClassVar[str] = "folio.benchup.tick.v1"
    OWNER: ClassVar[str] = "benchup"
    SUBJECT: ClassVar[str] = "tick_id"

    tick_id: str
    n: int


class Tocked(Event):
    """What the handler publishes for each tick, through the outbox, as a service's handler does."""

    TYPE: ClassVar[str] = "folio.bench.tocked.v1"
    OWNER: ClassVar[str] = "bench"
    SUBJECT: ClassVar[str] = "tick_id"

    tick_id: str


bench_metadata = MetaData()
ticks = Table(
    "ticks",
    bench_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tick_id", Text, nullable=False),
)


@dataclass(frozen=True)
class Figures:
    cpu_us_per_message: float
    messages_per_second: float
    round_trips_per_message: float


async def _delete_bench_topology(amqp_url: str) -> None:
    queues = consumer_queues("bench", "tick", (Tick,), delays=(1.0, 5.0, 30.0), delivery_limit=20)
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for queue in queues.queues():
            await channel.queue_delete(queue.name)
        for exchange in (internal_exchange("bench"), events_exchange("benchup")):
            await channel.exchange_delete(exchange.name)
    finally:
        await connection.close()


async def _management_answers() -> bool:
    async with management_client() as api:
        try:
            await api.get("/api/overview")
        except httpx.TransportError:
            return False
    return True


@asynccontextmanager
async def private_vhost() -> AsyncIterator[str]:
    if await _management_answers():
        async with fresh_vhost("folio_bench_cpu") as amqp_url:
            yield amqp_url
        return
    amqp_url = test_servers().amqp_url
    await _delete_bench_topology(amqp_url)
    try:
        yield amqp_url
    finally:
        await _delete_bench_topology(amqp_url)


async def publish_backlog(amqp_url: str, count: int) -> None:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(Tick.exchange())
        for start in range(0, count, 500):
            sends = []
            for n in range(start, min(start + 500, count)):
                envelope = Envelope(type=Tick.TYPE, source="/bench", subject=str(n))
                message = aio_pika.Message(
                    Tick(tick_id=str(n), n=n).to_json(),
                    headers=dict(envelope.to_headers()),
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=str(envelope.id),
                )
                sends.append(exchange.publish(message, routing_key=Tick.routing_key(), mandatory=True))
            await asyncio.gather(*sends)
    finally:
        await connection.close()


async def one_run(count: int, prefetch: int) -> Figures:
    async with fresh_database("folio_bench_cpu") as database_url, private_vhost() as amqp_url:
        engine = create_engine(database_url)
        async with engine.begin() as conn:
            await conn.run_sync(chassis_metadata.create_all)
            await conn.run_sync(bench_metadata.create_all)
        sessions = session_factory(engine)
        handled = 0
        done = asyncio.Event()

        async def handle(tick: Tick, uow: UnitOfWork) -> None:
            await uow.session.execute(insert(ticks).values(tick_id=tick.tick_id))
            uow.send(Tocked(tick_id=tick.tick_id))
            await uow.commit()
            nonlocal handled
            handled += 1
            if handled == count:
                done.set()

        quiet = logging.getLogger("bench.faststream")
        quiet.setLevel(logging.WARNING)

        def worker() -> ServiceBroker:
            return build_broker(
                service="bench",
                amqp_url=amqp_url,
                subscriptions=[Subscription("tick", (Tick,), handle)],
                uow_factory=lambda: UnitOfWork(sessions, source="/bench"),
                prefetch=prefetch,
                graceful_timeout=1.0,
                # As the runner builds it: tracing and metrics middlewares, logs through a logger (quiet
                # here, so that the figure is the delivery path's, not the console's).
                middlewares=[telemetry_middleware(), broker_metrics_middleware("bench")],
                logger=quiet,
            )

        connection = await aio_pika.connect(amqp_url)
        channel = await connection.channel()
        upstream = events_exchange("benchup")
        await channel.declare_exchange(upstream.name, type=upstream.type.value, durable=True)
        await connection.close()
        # A first start declares the queues and bindings; the backlog is published once it is stopped.
        broker = worker()
        await broker.start()
        await broker.stop()
        await publish_backlog(amqp_url, count)

        broker = worker()
        cpu, wall, trips = time.process_time(), time.perf_counter(), round_trips_so_far()
        await broker.start()
        await asyncio.wait_for(done.wait(), timeout=600)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        trips = round_trips_so_far() - trips
        await broker.stop()
        await engine.dispose()
        return Figures(cpu / count * 1e6, count / wall, trips / count)


async def bench(args: argparse.Namespace) -> None:
    runs = []
    for run in range(args.runs):
        figures = await one_run(args.messages, args.prefetch)
        runs.append(figures)
        print(
            f"run {run + 1}: {figures.cpu_us_per_message:.0f} µs CPU per message, "
            f"{figures.round_trips_per_message:.2f} SQL round trips per message, "
            f"{figures.messages_per_second:.0f} messages/s"
        )
    cpu = statistics.median(r.cpu_us_per_message for r in runs)
    trips = statistics.median(r.round_trips_per_message for r in runs)
    rate = statistics.median(r.messages_per_second for r in runs)
    print(
        f"median of {args.runs}: {cpu:.0f} µs CPU per message, {trips:.2f} SQL round trips per message, "
        f"{rate:.0f} messages/s"
    )


def main() -> None:
    # Spans are really made (a provider with no exporter): what a span costs is part of the path.
    trace.set_tracer_provider(TracerProvider())
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--prefetch", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args()
    (uvloop.run if args.loop == "uvloop" else asyncio.run)(bench(args))


if __name__ == "__main__":
    main()
