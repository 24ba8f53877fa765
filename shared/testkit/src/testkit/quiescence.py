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


class FinishedDeliveries:
    """Deliveries this process's consumers finished from the moment it is made (of ``queues``, or of all)."""

    def __init__(self, *queues: str) -> None:
        self.queues = queues
        self.start = self._total()

    def _total(self) -> int:
        total = 0.0
        for metric in REGISTRY.collect():
            for sample in metric.samples:
                if sample.name == "folio_consumer_messages_total" and (
                    not self.queues or sample.labels.get("queue") in self.queues
                ):
                    total += sample.value
        return int(total)

    async def at_least(self, count: int) -> bool:
        """For ``eventually``: ``count`` deliveries (duplicates, retries, parkings included) are finished."""
        return self._total() - self.start >= count
