"""Gauges of what a service has not finished: its outbox backlog and its parked messages, plus its own.

One task in the worker (:func:`collect_periodically`) refreshes them every ``metrics_interval_seconds``
with a few cheap queries; ``/metrics`` then serves the last figures. A service adds gauges of its own through
``ServiceDefinition.gauges`` (ordering's sagas, notification's e-mails waiting for SMTP). The figures are the
same from every replica (they read the service's database and queues): alerts take ``max`` of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from prometheus_client import Gauge
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.definition import AppResources
from chassis.lifecycle import sleep_unless_stopped
from chassis.messaging.topology import parking_queue_name, queue_name
from chassis.tables import outbox

log = logging.getLogger(__name__)

OUTBOX_PENDING = Gauge(
    "folio_outbox_pending", "Outbox rows not yet published (and not given up on)", ["service"]
)
OUTBOX_OLDEST_PENDING_AGE = Gauge(
    "folio_outbox_oldest_pending_age_seconds",
    "Age of the oldest outbox row not yet published; 0 when none waits",
    ["service"],
)
OUTBOX_FAILED = Gauge("folio_outbox_failed", "Outbox rows the relay gave up on", ["service"])
PARKED = Gauge("folio_parked_messages", "Messages parked in <queue>.dlq, by consumer queue", ["queue"])

# MERGE (h9-relay): replace with the outbox store's backlog function (it counts `failed_at IS NOT NULL`).
# Until that column exists the relay never gives up on a row, so none has failed.
OUTBOX_FAILED_QUERY = text("SELECT 0")


async def collect_outbox(engine: AsyncEngine, service: str) -> None:
    # The relay's own partial index (published_at IS NULL) holds exactly these rows.
    backlog = select(func.count(), func.extract("epoch", func.now() - func.min(outbox.c.created_at))).where(
        outbox.c.published_at.is_(None)
    )
    async with engine.connect() as connection:
        pending, oldest_age = (await connection.execute(backlog)).one()
        failed = (await connection.execute(OUTBOX_FAILED_QUERY)).scalar_one()
    OUTBOX_PENDING.labels(service).set(pending)
    OUTBOX_OLDEST_PENDING_AGE.labels(service).set(float(oldest_age or 0))
    OUTBOX_FAILED.labels(service).set(failed)


async def collect_parked(connection: AbstractRobustConnection, queues: Sequence[str]) -> None:
    """Count each ``<queue>.dlq`` by a passive declare: no management API, no change to the queue."""
    for queue in queues:
        channel = await connection.channel()
        try:
            declared = await channel.declare_queue(parking_queue_name(queue), passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            # Not declared yet (the consumers declare it on start); the broker closed the channel.
            continue
        else:
            PARKED.labels(queue).set(declared.declaration_result.message_count or 0)
        finally:
            with contextlib.suppress(Exception):
                await channel.close()


class _Broker:
    """One connection for the passive declares, opened on first use and again after a failure."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.connection: AbstractRobustConnection | None = None

    async def get(self) -> AbstractRobustConnection:
        if self.connection is None or self.connection.is_closed:
            self.connection = await aio_pika.connect_robust(self.url)
        return self.connection

    async def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.connection.close(), 5)


async def collect_periodically(resources: AppResources) -> None:
    """Refresh every backlog gauge until the worker stops; a figure that fails is logged, the rest go on."""
    definition, settings = resources.definition, resources.settings
    queues = [queue_name(definition.name, s.handler) for s in definition.subscriptions()]
    broker = _Broker(settings.amqp_url)

    async def parked(_: AppResources) -> None:
        await collect_parked(await broker.get(), queues)

    async def outbox_backlog(_: AppResources) -> None:
        await collect_outbox(resources.engine, definition.name)

    collectors = [outbox_backlog, *([parked] if queues else []), *definition.gauges]
    try:
        while not resources.stop.is_set():
            for collect in collectors:
                try:
                    await collect(resources)
                except Exception:
                    log.warning("collecting gauges (%s) failed; again later", collect.__name__, exc_info=True)
            await sleep_unless_stopped(resources.stop, settings.metrics_interval_seconds)
    finally:
        await broker.close()
