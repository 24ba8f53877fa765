"""Handling one delivery: inbox, handler, and on failure a delayed retry or parking.

FastStream reads the envelope and the contract model (``chassis.messaging.codec``); the delivery middleware
(``chassis.messaging.middleware``) hands each delivery of a queue to that queue's :class:`Consumer`. The
handler runs in one unit of work with its inbox row, so a redelivered message is acked and skipped.
A message that can never succeed (bad envelope, a type the queue does not take, an invalid body) is parked
at once; a handler error is retried through the delay queues ``<queue>.retry.<n>`` and then parked in
``<queue>.dlq`` with the error in its headers. Each of those republishes is confirmed by the broker before
the delivery is acked, so a crash in between redelivers the message rather than losing it.

An unreachable database or broker is never the message's fault (``chassis.messaging.unreachable``): the
delivery is held, unacked and spending no attempt, while the worker's :class:`Recovery` probes the database,
and is handled again once it answers (``folio_consumer_deliveries_held`` counts it meanwhile). A hold longer
than ``hold_limit`` (kept under the broker's consumer timeout) pauses the queue's intake, gives the delivery
back and resumes intake after the recovery, so a long outage costs a message at most one redelivery, never a
retry and never its parking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar, cast

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, DeliveryMode
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from sqlalchemy import text

from chassis import defaults, inbox
from chassis.messaging import context
from chassis.messaging.codec import ATTEMPT, ContractCodec, Delivery, Unhandleable
from chassis.messaging.metrics import HELD, Outcome, count
from chassis.messaging.recovery import Recovery
from chassis.messaging.republish import Republish
from chassis.messaging.topology import parking_queue_name, retry_queue_name
from chassis.messaging.unreachable import is_unreachable
from chassis.uow import UnitOfWork
from contracts.base import Message
from contracts.envelope import ID, Envelope
from contracts.upcasting import Upcasters

log = logging.getLogger(__name__)

U = TypeVar("U", bound=UnitOfWork)

# Headers the consumer adds (and ``ATTEMPT``, which the codec reads); the parked-message tools read them back.
LAST_ERROR = "x-folio-last-error"
ERROR = "x-folio-error"
ERROR_TYPE = "x-folio-error-type"
ATTEMPTS = "x-folio-attempts"
PARKED_AT = "x-folio-parked-at"
QUEUE = "x-folio-queue"
FOLIO_HEADERS = (ATTEMPT, LAST_ERROR, ERROR, ERROR_TYPE, ATTEMPTS, PARKED_AT, QUEUE)
# What the broker adds on dead-lettering and redelivery; dropped on republish, where it no longer applies.
BROKER_HEADERS = (
    "x-death",
    "x-delivery-count",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
)
MAX_ERROR_LENGTH = 2000
# How long a delivery is held while the database is away before it is given back (intake paused): well
# under RabbitMQ's consumer timeout (30 min by default), which would close the channel of a longer hold.
DEFAULT_HOLD_LIMIT = defaults.CONSUMER_HOLD_LIMIT
# Pauses before handling a held message again when it found a dependency away more than once in a row.
HOLD_PAUSES = (0.5, 1.0, 2.0, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class Subscription(Generic[U]):
    """A handler of the service: its queue is ``<service>.<handler>``, bound to each of ``messages``.

    ``handle(message, uow)`` runs inside the delivery's open unit of work, which the consumer commits once
    after it (handlers never commit).
    """

    handler: str
    messages: tuple[type[Message], ...]
    handle: Callable[[Any, U], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Seconds to wait before each retry of a failed handler; after the last one the message is parked."""

    delays: tuple[float, ...] = defaults.RETRY_DELAYS

    @property
    def attempts(self) -> int:
        """How many times a handler runs for one message, at most."""
        return len(self.delays) + 1


class DependencyUnreachable(Exception):
    """Handling stopped because the database (or, for a republish, the broker) could not be reached."""

    def __init__(self, what: str, error: BaseException) -> None:
        super().__init__(f"{what} unreachable: {_describe(error)}")
        self.what = what


class Intake(Protocol):
    """Stops and restarts the deliveries of one queue (basic.cancel, then consume again)."""

    async def pause(self) -> None: ...
    async def resume(self) -> None: ...


def _text(value: object) -> str:
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return text[:MAX_ERROR_LENGTH]


def _describe(exc: BaseException) -> str:
    return _text("".join(traceback.format_exception_only(exc)).strip())


def copy_message(raw: AbstractIncomingMessage, headers: Mapping[str, Any]) -> aio_pika.Message:
    """The same body and properties as ``raw`` with new headers, persistent.

    A string header that was not UTF-8 reaches us as ``bytes``, which the AMQP encoder refuses: it travels on
    as a byte array, unchanged, so that such a message can still be retried or parked.
    """
    return aio_pika.Message(
        raw.body,
        headers={k: bytearray(v) if isinstance(v, bytes) else v for k, v in headers.items()},
        content_type=raw.content_type,
        content_encoding=raw.content_encoding,
        delivery_mode=DeliveryMode.PERSISTENT,
        message_id=raw.message_id,
        correlation_id=raw.correlation_id,
        timestamp=raw.timestamp,
        type=raw.type,
        app_id=raw.app_id,
    )


def original_headers(raw: AbstractIncomingMessage) -> dict[str, Any]:
    """The headers as the producer sent them, without what retries, parking and the broker added."""
    dropped = {*BROKER_HEADERS, *FOLIO_HEADERS}
    return {k: v for k, v in (raw.headers or {}).items() if k not in dropped}


# Runs the FastStream handler of a delivery (the typed subscriber) with its decoded model and unit of work.
RunHandler = Callable[[Message, U], Awaitable[object]]


class Consumer(Generic[U]):
    """Processes the deliveries of one queue."""

    def __init__(
        self,
        *,
        queue: str,
        subscription: Subscription[U],
        uow_factory: Callable[[], U],
        retry: RetryPolicy,
        republish: Republish,
        upcasters: Upcasters | None = None,
        recovery: Recovery | None = None,
        intake: Intake | None = None,
        hold_limit: float = DEFAULT_HOLD_LIMIT,
    ) -> None:
        self.queue = queue
        self.subscription = subscription
        self.codec = ContractCodec(queue, subscription.messages, upcasters)
        self._uow_factory = uow_factory
        self._retry = retry
        self._republish = republish
        self._recovery = recovery or Recovery(database_probe(uow_factory))
        self.intake = intake
        self._hold_limit = hold_limit

    async def process(self, delivery: Delivery, run: RunHandler[U] | None = None) -> None:
        """Handle, retry or park ``delivery``, then ack it; while a dependency is away, hold it (see above).

        ``run`` calls the handler (by default the subscription's ``handle`` itself).
        """
        run = run or self.subscription.handle
        raw = delivery.raw_message
        loop = asyncio.get_running_loop()
        give_back_at = loop.time() + self._hold_limit
        failures = 0
        held = HELD.labels(self.queue)
        holding = False
        try:
            while True:
                try:
                    if self._recovery.is_down:
                        # Others found the database away: wait with them rather than fail once more.
                        raise DependencyUnreachable(self._recovery.what, ConnectionError("being probed"))
                    await self._process(delivery, run)
                except DependencyUnreachable as down:
                    if _channel_closed(raw):
                        # Nothing to hold: the broker gives a lost channel's unacked delivery back itself.
                        log.warning("%s lost its channel while %s; the broker redelivers", self.queue, down)
                        return
                    if not holding:
                        held.inc()
                        holding = True
                    if await self._recovered_in_time(down, failures, give_back_at - loop.time()):
                        failures += 1
                        continue
                    await self._give_back(raw)
                    # Ready in its queue again, where it is counted: no longer held here.
                    held.dec()
                    holding = False
                    await self._resume_once_recovered()
                    return
                except Exception:
                    log.exception("could not retry or park a message of %s; requeueing it", self.queue)
                    # Redelivered; the queue's delivery limit dead-letters it to the parking queue if this
                    # persists. Should the channel be gone, the broker requeues the unacked message itself.
                    with contextlib.suppress(Exception):
                        await raw.nack(requeue=True)
                    return
                else:
                    await raw.ack()
                    return
        finally:
            if holding:
                held.dec()

    async def _recovered_in_time(self, down: DependencyUnreachable, failures: int, remaining: float) -> bool:
        """Wait, holding the delivery, until it is worth handling again; False when the hold runs out.

        The database is waited for through the shared recovery; a message that fails so again at once
        (a probe that passes where the handler does not, a broker refusing republishes) also pauses on
        a growing ladder, so that nothing spins.
        """
        if failures == 0:
            log.warning("%s holds a message: %s", self.queue, down)
        loop = asyncio.get_running_loop()
        started = loop.time()
        if down.what == self._recovery.what and not await self._recovery.wait(within=max(remaining, 0.0)):
            return False
        if failures == 0 and down.what == self._recovery.what:
            return True
        pause = HOLD_PAUSES[min(failures, len(HOLD_PAUSES) - 1)]
        if pause >= remaining - (loop.time() - started):
            return False
        await asyncio.sleep(pause)
        return True

    async def _give_back(self, raw: AbstractIncomingMessage) -> None:
        """Held too long: stop this queue's intake and give the delivery back to the broker."""
        log.warning(
            "%s held a message for %.0fs; pausing intake until %s answers",
            self.queue,
            self._hold_limit,
            self._recovery.what,
        )
        if self.intake is not None:
            await self.intake.pause()
        with contextlib.suppress(Exception):
            await raw.nack(requeue=True)

    async def _resume_once_recovered(self) -> None:
        await self._recovery.wait()
        if self.intake is not None:
            await self.intake.resume()

    async def _process(self, delivery: Delivery, run: RunHandler[U]) -> None:
        raw = delivery.raw_message
        try:
            message = cast("Message", await delivery.decode())
        except Unhandleable as exc:
            await self.park(raw, reason=exc.reason, error_type=exc.error_type, attempts=0)
            return
        envelope = delivery.envelope
        assert envelope is not None  # decoded, so read
        try:
            await self._handle(message, envelope, run)
        except Exception as exc:
            if is_unreachable(exc):
                raise DependencyUnreachable(self._recovery.what, exc) from exc
            log.warning(
                "%s failed on %s %s (attempt %d): %s",
                self.queue,
                envelope.type,
                envelope.id,
                delivery.attempt + 1,
                _describe(exc),
                exc_info=True,
            )
            await self.retry_or_park(raw, exc, delivery.attempt)

    async def _handle(self, message: Message, envelope: Envelope, run: RunHandler[U]) -> None:
        handling = context.MessageContext(envelope.id, envelope.type, envelope.correlation_id)
        # FastStream's telemetry middleware made the delivery's span (continuing the sender's trace):
        # it is enriched here, not nested under a second one.
        span = trace.get_current_span()
        span.update_name(f"{self.queue} handle")
        span.set_attributes(
            {
                "messaging.destination.name": self.queue,
                "messaging.message.id": str(envelope.id),
                "messaging.message.conversation_id": envelope.correlation_id or "",
                "cloudevents.event_type": envelope.type,
            }
        )
        with context.bound(handling):
            try:
                async with self._uow_factory() as uow:
                    uow.caused_by(envelope)
                    claimed = await inbox.claim(
                        uow.session, consumer=self.queue, message_id=envelope.id, message_type=envelope.type
                    )
                    if not claimed:
                        log.info("%s skips %s %s: already handled", self.queue, envelope.type, envelope.id)
                        span.set_attribute("folio.duplicate", True)
                        count(self.queue, Outcome.DUPLICATE)
                        return
                    await run(message, uow)
                    await uow.commit()
                count(self.queue, Outcome.HANDLED)
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, _describe(exc)))
                raise

    async def retry_or_park(self, raw: AbstractIncomingMessage, exc: Exception, attempt: int) -> None:
        """Send ``raw`` to the delay queue of its next attempt, or park it when none is left."""
        next_attempt = attempt + 1
        if next_attempt > len(self._retry.delays):
            await self.park(raw, reason=_describe(exc), error_type=type(exc).__name__, attempts=next_attempt)
            return
        headers = original_headers(raw)
        headers[ATTEMPT] = next_attempt
        headers[LAST_ERROR] = _describe(exc)
        await self._send(copy_message(raw, headers), retry_queue_name(self.queue, next_attempt))
        count(self.queue, Outcome.RETRIED)

    async def park(
        self, raw: AbstractIncomingMessage, *, reason: str, error_type: str, attempts: int
    ) -> None:
        message_id = (raw.headers or {}).get(ID) or raw.message_id or "?"
        log.error("%s parks message %s: %s", self.queue, message_id, reason)
        headers = original_headers(raw)
        headers.update(
            {
                ERROR: _text(reason),
                ERROR_TYPE: error_type,
                ATTEMPTS: attempts,
                PARKED_AT: datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                QUEUE: self.queue,
            }
        )
        await self._send(copy_message(raw, headers), parking_queue_name(self.queue))
        count(self.queue, Outcome.PARKED)

    async def _send(self, message: aio_pika.Message, routing_key: str) -> None:
        try:
            await self._republish(message, routing_key)
        except Exception as exc:
            if is_unreachable(exc):
                raise DependencyUnreachable("the broker", exc) from exc
            raise


def _channel_closed(raw: AbstractIncomingMessage) -> bool:
    channel = getattr(raw, "channel", None)
    return bool(getattr(channel, "is_closed", False))


def database_probe(uow_factory: Callable[[], UnitOfWork]) -> Callable[[], Awaitable[None]]:
    """Passes when the handlers' database takes a session again, and a writable one."""

    async def probe() -> None:
        async with uow_factory() as uow:
            # A standby (after a failover) answers SELECT 1 but refuses every write: not back yet.
            read_only = await uow.session.scalar(text("SELECT current_setting('transaction_read_only')"))
            if read_only == "on":
                raise ConnectionError("the database is read-only (a standby)")

    return probe
