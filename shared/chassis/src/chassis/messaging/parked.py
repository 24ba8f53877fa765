"""Listing, replaying and discarding the messages parked in a consumer's ``<queue>.dlq``.

Listing browses without losing anything: each message is fetched unacked and given back (requeued) at the
end. Replaying republishes a parked message to its queue through ``<service>.internal`` with its attempts
reset, with FastStream's publisher as the worker's retries do (``chassis.messaging.republish``), and
removes it from the parking queue only once the broker confirmed the republish. Discarding removes chosen
messages for good. Counting asks each parking queue (a passive declare). Browsing uses aio-pika directly:
FastStream cannot fetch messages unacked and hold them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aio_pika
import httpx
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import ChannelNotFoundEntity
from faststream.rabbit import Channel, RabbitBroker

from chassis.messaging.consumer import ATTEMPTS, ERROR, ERROR_TYPE, PARKED_AT, copy_message, original_headers
from chassis.messaging.republish import Republish, republisher
from chassis.messaging.topology import parking_queue_name, service_of
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


@asynccontextmanager
async def _republisher(amqp_url: str, queue: str) -> AsyncIterator[Republish]:
    broker = RabbitBroker(amqp_url, default_channel=Channel(publisher_confirms=True), logger=None)
    await broker.connect()
    try:
        yield republisher(broker, service_of(queue))
    finally:
        await broker.stop()


async def replay(amqp_url: str, queue: str, ids: Collection[str] = ()) -> list[str]:
    """Send parked messages back to ``queue`` (only those with ``ids``, or all); returns the replayed ids."""
    wanted = set(ids)
    async with _parking_queue(amqp_url, queue) as (_, parking), _republisher(amqp_url, queue) as republish:
        replayed: list[str] = []
        kept: list[AbstractIncomingMessage] = []
        async for raw in _browse(parking):
            parked = describe(raw)
            if wanted and parked.id not in wanted:
                kept.append(raw)
                continue
            message = copy_message(raw, original_headers(raw))
            await republish(message, queue)
            await raw.ack()
            replayed.append(parked.id or "?")
        for raw in kept:
            await raw.nack(requeue=True)
        return replayed


async def discard(amqp_url: str, queue: str, ids: Collection[str]) -> list[str]:
    """Remove the parked messages with ``ids`` from ``queue``'s parking queue for good; returns the found."""
    wanted = set(ids)
    async with _parking_queue(amqp_url, queue) as (_, parking):
        discarded: list[str] = []
        kept: list[AbstractIncomingMessage] = []
        async for raw in _browse(parking):
            parked = describe(raw)
            if parked.id in wanted:
                await raw.ack()
                discarded.append(parked.id)
            else:
                kept.append(raw)
        for raw in kept:
            await raw.nack(requeue=True)
        return discarded


@dataclass(frozen=True, slots=True)
class ParkingQueue:
    queue: str  # the consumer queue, e.g. catalog.reserve_stock (its parking queue is <queue>.dlq)
    messages: int


PARKING_SUFFIX = ".dlq"


def vhost_of(amqp_url: str) -> str:
    path = urlsplit(amqp_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


async def parking_queues_of_vhost(management_url: str, amqp_url: str) -> list[str]:
    """Every consumer queue of the AMQP URL's vhost that has a parking queue, from the management API.

    Credentials come from ``management_url``, else from the AMQP URL (an operator's user needs the
    management tag, which no service user has).
    """
    parts = urlsplit(management_url)
    amqp = urlsplit(amqp_url)
    user = unquote(parts.username or amqp.username or "guest")
    password = unquote(parts.password or amqp.password or "guest")
    base = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port or 15672}", parts.path, "", ""))
    vhost = quote(vhost_of(amqp_url), safe="")
    async with httpx.AsyncClient(base_url=base, auth=(user, password), timeout=10) as api:
        response = await api.get(f"/api/queues/{vhost}", params={"columns": "name"})
        response.raise_for_status()
        names = [q["name"] for q in response.json()]
    return sorted(n.removesuffix(PARKING_SUFFIX) for n in names if n.endswith(PARKING_SUFFIX))


async def count_parked(amqp_url: str, queues: Iterable[str]) -> list[ParkingQueue]:
    """How many messages each of ``queues`` has parked; a queue without a parking queue is left out."""
    counts: list[ParkingQueue] = []
    connection = await aio_pika.connect(amqp_url)
    try:
        for queue in sorted(set(queues)):
            # A passive declare of a missing queue closes its channel: one channel per queue.
            channel = await connection.channel()
            try:
                declared = await channel.declare_queue(parking_queue_name(queue), passive=True)
            except ChannelNotFoundEntity:
                continue
            counts.append(ParkingQueue(queue, declared.declaration_result.message_count or 0))
            await channel.close()
    finally:
        await connection.close()
    return counts
