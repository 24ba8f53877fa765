"""Has the system stopped moving? Checks to wait on before asserting that something did not happen.

"Nothing happened after a sleep" passes when the effect is merely slow. Wait instead until the message that
could cause it has been handled (its inbox row, or the consumers' count of finished deliveries), its queue
is empty and the relay has nothing left to publish; then an absence means something.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

import aio_pika
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.outbox.store import outbox_figures
from chassis.tables import inbox


async def relay_drained(engine: AsyncEngine) -> bool:
    """No outbox row is waiting to be published (rows given up on are not waiting)."""
    async with engine.connect() as connection:
        return (await outbox_figures(connection)).pending == 0


async def queue_depth(amqp_url: str, queue: str) -> int:
    """Messages ready in ``queue`` (a passive declare: exact, not the management API's sampled figure).

    Deliveries a consumer holds unacknowledged are not counted: see ``FinishedDeliveries``.
    """
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)
    finally:
        await connection.close()


async def queues_empty(amqp_url: str, *queues: str) -> bool:
    return all([await queue_depth(amqp_url, queue) == 0 for queue in queues])


async def handled(engine: AsyncEngine, message_ids: Iterable[UUID], consumer: str | None = None) -> bool:
    """Every one of ``message_ids`` has its inbox row (of ``consumer``, if named): its handler committed."""
    wanted = set(message_ids)
    query = select(func.count()).select_from(inbox).where(inbox.c.message_id.in_(wanted))
    if consumer is not None:
        query = query.where(inbox.c.consumer == consumer)
    async with engine.connect() as connection:
        return int((await connection.scalar(query)) or 0) >= len(wanted)


def counter_total(sample: str, *, queues: Iterable[str] = ()) -> int:
    """The sum of this process's Prometheus samples named ``sample`` (of ``queues``' label, if named)."""
    wanted = set(queues)
    total = 0.0
    for metric in REGISTRY.collect():
        for each in metric.samples:
            if each.name == sample and (not wanted or each.labels.get("queue") in wanted):
                total += each.value
    return int(total)


class CounterSince:
    """How much a Prometheus counter of this process (``sample``, e.g. ``..._total``) grew since it was made.

    To wait for a loop to have gone round once more: a loop in the middle of a round when this is made
    finishes it first, so ``at_least(2)`` proves one whole round that began afterwards.
    """

    def __init__(self, sample: str, *queues: str) -> None:
        self.sample = sample
        self.queues = queues
        self.start = counter_total(sample, queues=queues)

    async def at_least(self, count: int) -> bool:
        """For ``eventually``: the counter grew by ``count`` or more."""
        return counter_total(self.sample, queues=self.queues) - self.start >= count


class FinishedDeliveries(CounterSince):
    """Deliveries this process's consumers finished from the moment it is made (of ``queues``, or of all).

    ``at_least(count)``: ``count`` deliveries (duplicates, retries, parkings included) are finished.
    """

    def __init__(self, *queues: str) -> None:
        super().__init__("folio_consumer_messages_total", *queues)
