"""Publishing a batch of outbox rows to RabbitMQ with publisher confirms, all in flight together.

Exchanges are checked (passive declare, cached briefly) before their rows are published, so a missing
exchange fails only the rows that name it. The connection is re-established whenever it is found closed, so
the relay outlives broker restarts; publishes cut short by a lost connection leave their rows untouched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractConnection

from chassis.observability import tracing
from chassis.outbox.store import PendingRow
from contracts.envelope import CONTENT_TYPE, CORRELATION_ID, SOURCE, TIME

log = logging.getLogger(__name__)


class BrokerUnavailable(Exception):
    """The broker cannot be reached (or the connection dropped); nothing row-specific went wrong."""


@dataclass(slots=True)
class BatchResult:
    # (row, wall-clock time of its confirm) for every confirmed row.
    confirmed: list[tuple[PendingRow, float]] = field(default_factory=list)
    # (row, error) for rows the broker refused, nacked or did not confirm in time.
    failed: list[tuple[PendingRow, str]] = field(default_factory=list)
    # Rows whose publish was cut short by a lost connection: they are left as they were, not counted.
    interrupted: list[PendingRow] = field(default_factory=list)


def to_message(row: PendingRow) -> aio_pika.Message:
    """The AMQP message for ``row``: its CloudEvents headers as they are, and the properties they imply."""
    headers = row.headers
    timestamp = headers.get(TIME)
    return aio_pika.Message(
        row.body,
        headers=headers,
        content_type=CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(row.message_id),
        type=row.type,
        # AMQP timestamps have one-second resolution; the header keeps the precise time.
        timestamp=_parse_time(timestamp) if isinstance(timestamp, str) else row.created_at,
        correlation_id=_text(headers.get(CORRELATION_ID)),
        app_id=_text(headers.get(SOURCE)),
    )


class Publisher:
    def __init__(
        self,
        amqp_url: str,
        *,
        max_in_flight: int,
        publish_timeout: float,
        connection_name: str = "folio-outbox-relay",
        exchange_check_ttl: float = 10.0,
    ) -> None:
        self._amqp_url = amqp_url
        self._max_in_flight = max_in_flight
        self._publish_timeout = publish_timeout
        self._connection_name = connection_name
        self._exchange_check_ttl = exchange_check_ttl
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._check_channel: AbstractChannel | None = None
        # Exchanges a passive declare found, and when (monotonic clock).
        self._exchanges_seen: dict[str, float] = {}
        self._close_reason: BaseException | None = None

    @property
    def connected(self) -> bool:
        # A connection the broker closed is not `is_closed` in aio-pika; `connected` is cleared then.
        connection = self._connection
        return connection is not None and not connection.is_closed and connection.connected.is_set()

    async def connect(self) -> None:
        """Open the connection unless it is open; BrokerUnavailable when the broker cannot be reached."""
        if self.connected:
            return
        if self._connection is not None:
            log.warning("outbox relay lost its broker connection (%s); reconnecting", self._close_reason)
        await self._drop_connection()
        try:
            connection = await aio_pika.connect(
                self._amqp_url,
                timeout=self._publish_timeout,
                client_properties={"connection_name": self._connection_name},
            )
        except Exception as exc:
            raise BrokerUnavailable(f"cannot connect to the broker: {describe(exc)}") from exc
        self._connection = connection
        self._close_reason = None
        connection.close_callbacks.add(self._on_connection_closed)
        log.info("outbox relay connected to the broker")

    async def close(self) -> None:
        await self._drop_connection()

    async def publish(self, rows: Sequence[PendingRow]) -> BatchResult:
        """Publish ``rows`` and wait for every confirm; the outcome of each row is in the result."""
        result = BatchResult()
        try:
            await self.connect()
            missing = await self._missing_exchanges({row.exchange for row in rows})
            channel = await self._publish_channel()
        except BrokerUnavailable:
            raise
        except Exception as exc:
            if not self.connected:
                raise BrokerUnavailable(f"connection lost: {describe(exc)}") from exc
            raise
        sendable = [row for row in rows if row.exchange not in missing]
        result.failed.extend((row, missing[row.exchange]) for row in rows if row.exchange in missing)
        exchanges = {
            name: channel.default_exchange if name == "" else await channel.get_exchange(name, ensure=False)
            for name in {row.exchange for row in sendable}
        }
        in_flight = asyncio.Semaphore(self._max_in_flight)

        async def publish_one(row: PendingRow) -> None:
            async with in_flight:
                with tracing.publish_span(row.headers, row.exchange, row.routing_key) as headers:
                    await exchanges[row.exchange].publish(
                        to_message(replace(row, headers=headers)),
                        row.routing_key,
                        mandatory=False,
                        timeout=self._publish_timeout,
                    )
            result.confirmed.append((row, time.time()))

        outcomes = await asyncio.gather(*(publish_one(row) for row in sendable), return_exceptions=True)
        lost = not self.connected or channel.is_closed
        for row, outcome in zip(sendable, outcomes, strict=True):
            if isinstance(outcome, asyncio.CancelledError):
                raise outcome
            if isinstance(outcome, BaseException):
                if lost:
                    result.interrupted.append(row)
                else:
                    result.failed.append((row, describe(outcome)))
        if lost:
            # The exchange may have gone since it was checked: check again before the next publish.
            self._exchanges_seen.clear()
        return result

    async def _missing_exchanges(self, names: set[str]) -> dict[str, str]:
        """The exchanges among ``names`` the broker does not have, each with the broker's words.

        A publish to a missing exchange makes the broker close the channel while further publishes may be on
        their way, which RabbitMQ answers by closing the whole connection. A passive declare first, on a
        channel of its own, keeps a missing exchange the failure of its own rows only.
        """
        now = time.monotonic()
        missing: dict[str, str] = {}
        for name in names:
            seen = self._exchanges_seen.get(name)
            if name == "" or (seen is not None and now - seen < self._exchange_check_ttl):
                continue
            channel = await self._open_check_channel()
            try:
                await channel.declare_exchange(name, passive=True, timeout=self._publish_timeout)
            except aiormq.exceptions.ChannelClosed as exc:
                if not self.connected:
                    raise
                missing[name] = describe(exc)
                self._check_channel = None
            else:
                self._exchanges_seen[name] = now
        return missing

    async def _open_check_channel(self) -> AbstractChannel:
        if self._check_channel is None or self._check_channel.is_closed:
            assert self._connection is not None
            self._check_channel = await self._connection.channel(publisher_confirms=False)
        return self._check_channel

    async def _publish_channel(self) -> AbstractChannel:
        if self._channel is None or self._channel.is_closed:
            assert self._connection is not None
            self._channel = await self._connection.channel(publisher_confirms=True)
        return self._channel

    def _on_connection_closed(self, _sender: object, reason: BaseException | None) -> None:
        self._close_reason = reason

    async def _drop_connection(self) -> None:
        for channel in (self._channel, self._check_channel):
            if channel is not None:
                await _close_quietly(channel)
        self._channel = self._check_channel = None
        self._exchanges_seen.clear()
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await _close_quietly(connection)


def describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def _close_quietly(closable: AbstractChannel | AbstractConnection) -> None:
    try:
        if not closable.is_closed:
            await closable.close()
    except Exception:
        log.debug("ignoring an error while closing %r", closable, exc_info=True)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _parse_time(value: str) -> float | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
