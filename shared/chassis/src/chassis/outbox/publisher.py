"""Publishing a batch of outbox rows to RabbitMQ with publisher confirms, all in flight together.

Every row's outcome is its own: confirmed, failed (returned unroutable, nacked, refused, too large, not
confirmed in time) or interrupted (the broker went away; the row is left as it was). In detail:

- Rows that must reach a queue (``routing.must_be_routed``) are published ``mandatory``; the broker's
  basic.return for one fails that row only.
- Exchanges are checked (passive declare, cached briefly) before their rows are published, and a body
  larger than ``max_body_bytes`` is refused before it is sent, so the common bad rows never reach the broker.
- Whatever else makes the broker close the channel (403 ACCESS_REFUSED, a 404 for an exchange deleted since
  its check, 406 for a body over the broker's limit) takes the publishes in flight with it, and RabbitMQ often
  closes the whole connection too (frames already on their way arrive on a closed channel). The relay then
  reconnects and publishes the rows left unconfirmed again: without the rows of the exchange the broker
  named, or else in halves down to the single culprit, so that only the culprits fail. A refused exchange
  (or topic) is remembered for ``exchange_check_ttl``, so the rows that follow fail at once instead of
  closing the channel batch after batch.
- The connection is re-established whenever it is found closed, so the relay outlives broker restarts;
  publishes cut short by a lost connection (not by a channel error) leave their rows untouched.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractConnection
from aiormq.exceptions import ChannelClosed, ChannelInvalidStateError, DeliveryError, PublishError

from chassis.observability import tracing
from chassis.outbox.routing import must_be_routed
from chassis.outbox.store import PendingRow
from contracts.envelope import CONTENT_TYPE, CORRELATION_ID, SOURCE, TIME

log = logging.getLogger(__name__)

T = TypeVar("T")

# Channel errors that concern an exchange (or a topic of it) rather than the one message, and how RabbitMQ
# names them: "ACCESS_REFUSED - access to exchange 'x' in vhost 'v' refused for user 'u'", "... access to
# topic 'k' in exchange 'x' ...", "NOT_FOUND - no exchange 'x' in vhost 'v'".
_TARGET_ERRORS = (aiormq.exceptions.ChannelAccessRefused, aiormq.exceptions.ChannelNotFoundEntity)
_EXCHANGE_NAMED = re.compile(r"exchange '(?P<name>[^']*)'")
_TOPIC_NAMED = re.compile(r"topic '(?P<name>[^']*)'")


class BrokerUnavailable(Exception):
    """The broker cannot be reached (or the connection dropped); nothing row-specific went wrong."""


@dataclass(slots=True)
class BatchResult:
    # (row, wall-clock time of its confirm) for every confirmed row.
    confirmed: list[tuple[PendingRow, float]] = field(default_factory=list)
    # (row, error) for rows the broker returned, refused, nacked or did not confirm in time.
    failed: list[tuple[PendingRow, str]] = field(default_factory=list)
    # Rows whose publish was cut short by a lost connection: they are left as they were, not counted.
    interrupted: list[PendingRow] = field(default_factory=list)


@dataclass(slots=True)
class _Attempt:
    """One round of publishes on one channel."""

    result: BatchResult = field(default_factory=BatchResult)
    # Rows whose publish the channel's (or connection's) closing cut short.
    unresolved: list[PendingRow] = field(default_factory=list)
    # The broker's reason when it closed the channel because of one of the rows.
    channel_error: ChannelClosed | None = None


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


def properties(row: PendingRow, headers: dict[str, Any]) -> aiormq.spec.Basic.Properties:
    """``to_message(row).properties`` with ``headers``, built directly: the relay's hot path skips the
    aio-pika message (its per-attribute checks cost more than the publish itself). A test holds the two equal.
    """
    timestamp = headers.get(TIME)
    parsed = _parse_time(timestamp) if isinstance(timestamp, str) else row.created_at.timestamp()
    return aiormq.spec.Basic.Properties(
        app_id=_text(headers.get(SOURCE)),
        content_type=CONTENT_TYPE,
        correlation_id=_text(headers.get(CORRELATION_ID)),
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        headers=headers,
        message_id=str(row.message_id),
        message_type=row.type,
        priority=0,
        timestamp=None if parsed is None else datetime.fromtimestamp(parsed, tz=UTC),
    )


class Publisher:
    def __init__(
        self,
        amqp_url: str,
        *,
        max_in_flight: int,
        publish_timeout: float,
        max_body_bytes: int = 16 * 1024 * 1024,
        connection_name: str = "folio-outbox-relay",
        exchange_check_ttl: float = 10.0,
        mandatory: Callable[[str], bool] = must_be_routed,
    ) -> None:
        self._amqp_url = amqp_url
        self._max_in_flight = max_in_flight
        self._publish_timeout = publish_timeout
        self._max_body_bytes = max_body_bytes
        self._connection_name = connection_name
        self._exchange_check_ttl = exchange_check_ttl
        self._mandatory = mandatory
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._check_channel: AbstractChannel | None = None
        # Exchanges a passive declare found, and when (monotonic clock).
        self._exchanges_seen: dict[str, float] = {}
        # (exchange, topic or None for all) the broker refused, with its words and when (monotonic clock).
        self._refused: dict[tuple[str, str | None], tuple[str, float]] = {}
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
        except BrokerUnavailable:
            raise
        except Exception as exc:
            if not self.connected:
                raise BrokerUnavailable(f"connection lost: {describe(exc)}") from exc
            raise
        sendable: list[PendingRow] = []
        for row in rows:
            error = missing.get(row.exchange) or self._refusal(row) or self._too_large(row)
            if error is None:
                sendable.append(row)
            else:
                result.failed.append((row, error))
        await self._publish_isolating_culprits(sendable, result)
        return result

    async def _publish_isolating_culprits(self, rows: list[PendingRow], result: BatchResult) -> None:
        """Publish ``rows`` together; when rows make the broker close the channel, fail those alone.

        Every row left unconfirmed by a channel error is published again (the broker may have routed the
        ones before the culprit without confirming them: they can arrive twice, which the consumers' inboxes
        absorb). Where the broker's words name the exchange (and topic) it refused, its rows fail at once;
        otherwise the rows are tried again in halves, down to the single culprit.
        """
        groups = [rows] if rows else []
        while groups:
            group = []
            for row in groups.pop():
                refusal = self._refusal(row)
                if refusal is None:
                    group.append(row)
                else:
                    result.failed.append((row, refusal))
            if not group:
                continue
            try:
                attempt = await self._attempt(group)
            except BrokerUnavailable:
                attempt = _Attempt(unresolved=list(group))
            result.confirmed.extend(attempt.result.confirmed)
            result.failed.extend(attempt.result.failed)
            error = attempt.channel_error
            if error is None:
                if attempt.unresolved:
                    # Cut short by a lost connection: nothing row-specific to find, and nothing more to do.
                    result.interrupted.extend(attempt.unresolved)
                    result.interrupted.extend(row for rest in groups for row in rest)
                    self._exchanges_seen.clear()
                    return
                continue
            # The broker may be closing this connection as well (frames that were on their way reach a
            # closed channel): start the next round on a new one rather than race its closing.
            await self._drop_connection()
            target = _refused_target(error)
            if target is not None:
                self._refused[target] = (describe(error), time.monotonic())
            unresolved = attempt.unresolved
            if len(unresolved) == 1:
                result.failed.append((unresolved[0], describe(error)))
                continue
            if any(self._refusal(row) is not None for row in unresolved):
                # The culprits are known by name (and fail as the group is taken): the others go together.
                groups.append(unresolved)
                continue
            middle = len(unresolved) // 2
            # Popped from the end: the first half goes first, keeping the rows roughly in order.
            groups.extend((unresolved[middle:], unresolved[:middle]))

    async def _attempt(self, rows: Sequence[PendingRow]) -> _Attempt:
        """Publish ``rows`` on the publishing channel, all in flight together, and sort their outcomes."""
        attempt = _Attempt()
        try:
            await self.connect()
            channel = await self._amqp_channel()
        except BrokerUnavailable:
            raise
        except Exception as exc:
            raise BrokerUnavailable(f"cannot open a channel: {describe(exc)}") from exc
        in_flight = asyncio.Semaphore(self._max_in_flight)

        async def publish_one(row: PendingRow) -> float:
            async with in_flight:
                with tracing.publish_span(row.headers, row.exchange, row.routing_key) as headers:
                    await _publish(channel, row, headers, self._mandatory(row.type))
            return time.time()

        outcomes = await _within(self._publish_timeout, [publish_one(row) for row in rows])
        for row, outcome in zip(rows, outcomes, strict=True):
            if isinstance(outcome, asyncio.CancelledError):
                raise outcome
            if isinstance(outcome, float):
                attempt.result.confirmed.append((row, outcome))
            elif isinstance(outcome, ChannelClosed) and outcome.args and outcome.args[0] is not None:
                # Refused by the broker, which closed the channel: this row or one beside it is the cause.
                attempt.unresolved.append(row)
                attempt.channel_error = attempt.channel_error or outcome
            elif isinstance(outcome, PublishError):
                attempt.result.failed.append((row, _returned(outcome)))
            elif isinstance(outcome, DeliveryError):
                attempt.result.failed.append((row, f"nacked by the broker: {outcome}"))
            elif isinstance(outcome, TimeoutError):
                attempt.result.failed.append((row, f"not confirmed within {self._publish_timeout:g}s"))
            elif isinstance(outcome, BaseException):
                lost = isinstance(outcome, ChannelInvalidStateError | aiormq.exceptions.AMQPConnectionError)
                if lost or not self.connected or channel.is_closed:
                    attempt.unresolved.append(row)
                else:
                    attempt.result.failed.append((row, describe(outcome)))
        return attempt

    def _refusal(self, row: PendingRow) -> str | None:
        """The broker's words if it refused ``row``'s exchange (or its topic) within the recheck interval."""
        now = time.monotonic()
        for target in ((row.exchange, None), (row.exchange, row.routing_key)):
            refused = self._refused.get(target)
            if refused is None:
                continue
            error, when = refused
            if now - when < self._exchange_check_ttl:
                return error
            del self._refused[target]
        return None

    def _too_large(self, row: PendingRow) -> str | None:
        if len(row.body) <= self._max_body_bytes:
            return None
        return f"body of {len(row.body)} bytes is larger than the relay's limit of {self._max_body_bytes}"

    async def _missing_exchanges(self, names: set[str]) -> dict[str, str]:
        """The exchanges among ``names`` the broker does not have, each with the broker's words.

        A passive declare on a channel of its own keeps the common case (an exchange not declared yet) from
        closing the publishing channel at all.
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

    async def _amqp_channel(self) -> aiormq.Channel:
        """aiormq's channel under the publishing channel: the one whose ``basic_publish`` takes ``wait``."""
        channel = await (await self._publish_channel()).get_underlay_channel()
        if not isinstance(channel, aiormq.Channel):
            raise TypeError(f"expected an aiormq channel, got {type(channel).__name__}")
        return channel

    async def _publish_channel(self) -> AbstractChannel:
        if self._channel is None or self._channel.is_closed:
            assert self._connection is not None
            # A basic.return raises PublishError in the publish it answers, so each row learns its own.
            self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        return self._channel

    def _on_connection_closed(self, _sender: object, reason: BaseException | None) -> None:
        self._close_reason = reason

    async def _drop_connection(self) -> None:
        channels = [c for c in (self._channel, self._check_channel) if c is not None]
        self._channel = self._check_channel = None
        self._exchanges_seen.clear()
        connection, self._connection = self._connection, None
        # Closing a channel waits for the broker's Close-Ok with no deadline of its own: a stalled broker
        # never sends it, and the relay's close took 90 s (a worker's stop cancelled it after
        # TASK_STOP_TIMEOUT, its socket left open). Closing the connection closes its channels too, and
        # aiormq gives up on the connection's own Close-Ok after a couple of seconds.
        try:
            async with asyncio.timeout(self._publish_timeout):
                for channel in channels:
                    await _close_quietly(channel)
        except TimeoutError:
            log.warning("the broker did not answer the relay's channel close in %gs", self._publish_timeout)
        if connection is not None:
            await _close_quietly(connection)


async def _within(seconds: float, publishes: Sequence[Awaitable[T]]) -> list[T | BaseException]:
    """Each publish's result or error, as ``gather(return_exceptions=True)`` gives them; those still waiting
    after ``seconds`` are cancelled and end in ``TimeoutError``.

    One deadline for the attempt, all of whose publishes start together (a batch is smaller than the limit
    of publishes in flight), instead of a timer per publish (12-17% of a draining relay's samples).
    """
    tasks = [asyncio.ensure_future(publish) for publish in publishes]
    try:
        _, late = await asyncio.wait(tasks, timeout=seconds) if tasks else (set(), set())
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    outcomes: list[T | BaseException] = []
    for task in tasks:
        if task in late:
            outcomes.append(TimeoutError(f"not confirmed within {seconds:g}s"))
        elif task.cancelled():
            outcomes.append(asyncio.CancelledError())
        else:
            error = task.exception()
            outcomes.append(task.result() if error is None else error)
    return outcomes


async def _publish(
    channel: aiormq.Channel, row: PendingRow, headers: dict[str, Any], mandatory: bool
) -> None:
    """Publish on aiormq's channel under aio-pika's, and wait for the broker's confirm.

    ``wait=False``: the frames are queued for the connection's writer and the channel is free for the next
    publish at once, instead of each publish holding the channel until its frames reach the socket (what
    aio-pika's ``Exchange.publish`` does). The confirm is still awaited: nothing is marked published sooner.
    """
    if channel.is_closed:
        raise ChannelInvalidStateError(f"{channel!r} closed")
    await channel.basic_publish(
        row.body,
        exchange=row.exchange,
        routing_key=row.routing_key,
        properties=properties(row, headers),
        mandatory=mandatory,
        wait=False,
    )


def _refused_target(error: ChannelClosed) -> tuple[str, str | None] | None:
    """(exchange, topic or None) the broker's words say it refused, if they say so."""
    if not isinstance(error, _TARGET_ERRORS):
        return None
    words = " ".join(str(arg) for arg in error.args)
    exchange = _EXCHANGE_NAMED.search(words)
    if exchange is None:
        return None
    topic = _TOPIC_NAMED.search(words)
    return exchange["name"], None if topic is None else topic["name"]


def describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _returned(error: PublishError) -> str:
    frame = error.frame
    code = getattr(frame, "reply_code", None)
    reply = getattr(frame, "reply_text", None)
    return (
        f"returned by the broker ({code} {reply}): no queue is bound to exchange "
        f"{getattr(frame, 'exchange', '?')!r} for routing key {getattr(frame, 'routing_key', '?')!r}"
    )


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
