"""Listing and replaying the messages parked in a consumer's ``<queue>.dlq``.

Listing browses without losing anything: each message is fetched unacked and given back (requeued) at the
end. Replaying republishes a parked message to its queue through ``<service>.internal`` with its attempts
reset, and removes it from the parking queue only once the broker confirmed the republish.
It talks to the broker with aio-pika directly: FastStream cannot fetch messages unacked and hold them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from chassis.messaging.consumer import (
    ATTEMPTS,
    ERROR,
    ERROR_TYPE,
    PARKED_AT,
    copy_message,
    ensure_confirmed,
    original_headers,
)
from chassis.messaging.topology import internal_exchange, parking_queue_name, service_of
from contracts.envelope import ID, TYPE


@dataclass(frozen=True, slots=True)
class ParkedMessage:
    id: str | None
    type: str | None
    error: str | None
    error_type: str | None
    attempts: int | None
    parked_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "error": self.error,
            "error_type": self.error_type,
            "attempts": self.attempts,
            "parked_at": self.parked_at,
        }


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _death_reason(headers: dict[str, Any]) -> str | None:
    """Why the broker dead-lettered a message itself (e.g. the queue's delivery limit was reached)."""
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        death = deaths[0]
        return f"dead-lettered by the broker from {_text(death.get('queue'))}: {_text(death.get('reason'))}"
    return None


def describe(raw: AbstractIncomingMessage) -> ParkedMessage:
    headers = dict(raw.headers or {})
    attempts = headers.get(ATTEMPTS)
    return ParkedMessage(
        id=_text(headers.get(ID)) or raw.message_id,
        type=_text(headers.get(TYPE)),
        error=_text(headers.get(ERROR)) or _death_reason(headers),
        error_type=_text(headers.get(ERROR_TYPE)),
        attempts=int(str(attempts)) if attempts is not None else None,
        parked_at=_text(headers.get(PARKED_AT)),
    )


@asynccontextmanager
async def _parking_queue(amqp_url: str, queue: str) -> AsyncIterator[tuple[AbstractChannel, AbstractQueue]]:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        yield channel, await channel.get_queue(parking_queue_name(queue), ensure=True)
    finally:
        # Closing gives every message still unacked back to the parking queue.
        await connection.close()


async def _browse(parking: AbstractQueue) -> AsyncIterator[AbstractIncomingMessage]:
    """Each message in the parking queue once, unacked; stops at the count seen when it began."""
    declared = await parking.declare()
    for _ in range(declared.message_count or 0):
        raw = await parking.get(no_ack=False, fail=False)
        if raw is None:
            return
        yield raw


async def list_parked(amqp_url: str, queue: str) -> list[ParkedMessage]:
    """The messages parked for ``queue`` (e.g. ``catalog.reserve_stock``), left where they are."""
    async with _parking_queue(amqp_url, queue) as (_, parking):
        held = [raw async for raw in _browse(parking)]
        for raw in held:
            await raw.nack(requeue=True)
        return [describe(raw) for raw in held]


async def replay(amqp_url: str, queue: str, ids: Collection[str] = ()) -> list[str]:
    """Send parked messages back to ``queue`` (only those with ``ids``, or all); returns the replayed ids."""
    wanted = set(ids)
    async with _parking_queue(amqp_url, queue) as (channel, parking):
        internal = await channel.get_exchange(internal_exchange(service_of(queue)).name, ensure=True)
        replayed: list[str] = []
        kept: list[AbstractIncomingMessage] = []
        async for raw in _browse(parking):
            parked = describe(raw)
            if wanted and parked.id not in wanted:
                kept.append(raw)
                continue
            message = copy_message(raw, original_headers(raw))
            ensure_confirmed(await internal.publish(message, routing_key=queue, mandatory=True))
            await raw.ack()
            replayed.append(parked.id or "?")
        for raw in kept:
            await raw.nack(requeue=True)
        return replayed
