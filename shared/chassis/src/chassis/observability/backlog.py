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
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.definition import Resources
from chassis.lifecycle import sleep_unless_stopped
from chassis.messaging.topology import parking_queue_name, queue_name
from chassis.outbox.store import outbox_figures

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


async def collect_outbox(engine: AsyncEngine, service: str) -> None:
    async with engine.connect() as connection:
        figures = await outbox_figures(connection)
    OUTBOX_PENDING.labels(service).set(figures.pending)
    OUTBOX_OLDEST_PENDING_AGE.labels(service).set(figures.oldest_pending_age_seconds)
    OUTBOX_FAILED.labels(service).set(figures.failed)


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


async def collect_periodically(resources: Resources) -> None:
    """Refresh every backlog gauge until the worker stops; a figure that fails is logged, the rest go on."""
    definition, settings = resources.definition, resources.settings
    queues = [queue_name(definition.name, s.handler) for s in definition.subscriptions()]
    broker = _Broker(settings.amqp_url)

    async def parked(_: Resources) -> None:
        await collect_parked(await broker.get(), queues)

    async def outbox_backlog(_: Resources) -> None:
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
