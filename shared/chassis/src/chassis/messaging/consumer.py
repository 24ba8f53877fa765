"""Handling one delivery: envelope, validation, inbox, handler, and on failure a delayed retry or parking.

The handler runs in one unit of work with its inbox row, so a redelivered message is acked and skipped.
A message that can never succeed (bad envelope, a type the queue does not take, an invalid body) is parked
at once; a handler error is retried through the delay queues ``<queue>.retry.<n>`` and then parked in
``<queue>.dlq`` with the error in its headers. Each of those republishes is confirmed by the broker before
the delivery is acked, so a crash in between redelivers the message rather than losing it.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, DeliveryMode
from aiormq.abc import ConfirmationFrameType
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from pamqp.commands import Basic

from chassis import inbox
from chassis.messaging import context
from chassis.messaging.metrics import Outcome, count
from chassis.messaging.topology import parking_queue_name, retry_queue_name
from chassis.uow import UnitOfWork
from contracts.base import Message
from contracts.envelope import ID, Envelope, InvalidEnvelope
from contracts.registry import MessageRegistry
from contracts.upcasting import Upcasters

log = logging.getLogger(__name__)
tracer = trace.get_tracer("chassis.messaging")

U = TypeVar("U", bound=UnitOfWork)

# Headers the consumer adds; the parked-message tools read them back.
ATTEMPT = "x-folio-attempt"
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


@dataclass(frozen=True, slots=True)
class Subscription(Generic[U]):
    """A handler of the service: its queue is ``<service>.<handler>``, bound to each of ``messages``.

    ``handle(message, uow)`` runs inside an open unit of work; it may commit, and is committed for otherwise.
    """

    handler: str
    messages: tuple[type[Message], ...]
    handle: Callable[[Any, U], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Seconds to wait before each retry of a failed handler; after the last one the message is parked."""

    delays: tuple[float, ...] = (1.0, 5.0, 30.0)

    @property
    def attempts(self) -> int:
        """How many times a handler runs for one message, at most."""
        return len(self.delays) + 1


class PublishNotConfirmed(RuntimeError):
    """The broker did not confirm a republish (nacked or returned it)."""


# Publishes a message to the service's internal exchange with a routing key and waits for the confirm.
Republish = Callable[[aio_pika.Message, str], Awaitable[ConfirmationFrameType | None]]


def ensure_confirmed(confirmation: object) -> None:
    # A returned message comes back in place of the Basic.Ack when the channel does not raise on returns.
    if not isinstance(confirmation, Basic.Ack):
        raise PublishNotConfirmed(f"broker answered {confirmation!r}")


def _text(value: object) -> str:
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return text[:MAX_ERROR_LENGTH]


def _describe(exc: BaseException) -> str:
    return _text("".join(traceback.format_exception_only(exc)).strip())


def copy_message(raw: AbstractIncomingMessage, headers: Mapping[str, Any]) -> aio_pika.Message:
    """The same body and properties as ``raw`` with new headers, persistent."""
    return aio_pika.Message(
        raw.body,
        headers=dict(headers),
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
    ) -> None:
        self.queue = queue
        self.subscription = subscription
        self.registry = MessageRegistry(subscription.messages, upcasters)
        self._subscribed = frozenset(m.TYPE for m in subscription.messages)
        self._uow_factory = uow_factory
        self._retry = retry
        self._republish = republish

    async def process(self, raw: AbstractIncomingMessage) -> None:
        """Handle, retry or park ``raw``, then ack it; on a failed republish, give it back to the broker."""
        try:
            await self._process(raw)
        except Exception:
            log.exception("could not retry or park a message of %s; requeueing it", self.queue)
            # Redelivered; the queue's delivery limit dead-letters it to the parking queue if this persists.
            # Should the channel be gone, the broker requeues the unacked message by itself.
            with contextlib.suppress(Exception):
                await raw.nack(requeue=True)
        else:
            await raw.ack()

    async def _process(self, raw: AbstractIncomingMessage) -> None:
        headers = dict(raw.headers or {})
        try:
            envelope = Envelope.from_headers(headers)
        except InvalidEnvelope as exc:
            await self.park(raw, reason=f"invalid envelope: {exc}", error_type="InvalidEnvelope", attempts=0)
            return
        if self.registry.upcasters.newest(envelope.type) not in self._subscribed:
            reason = f"{self.queue} does not take {envelope.type!r}; it takes {sorted(self._subscribed)}"
            await self.park(raw, reason=reason, error_type="UnexpectedType", attempts=0)
            return
        try:
            message = self.registry.parse(envelope.type, raw.body)
        except ValueError as exc:  # pydantic's ValidationError, InvalidMessage and UpcastFailed all are
            await self.park(raw, reason=_text(exc), error_type=type(exc).__name__, attempts=0)
            return

        attempt = int(_text(headers.get(ATTEMPT, 0)) or 0)
        try:
            await self._handle(message, envelope, headers)
        except Exception as exc:
            log.warning(
                "%s failed on %s %s (attempt %d): %s",
                self.queue,
                envelope.type,
                envelope.id,
                attempt + 1,
                _describe(exc),
                exc_info=True,
            )
            await self.retry_or_park(raw, exc, attempt)

    async def _handle(self, message: Message, envelope: Envelope, headers: dict[str, Any]) -> None:
        handling = context.MessageContext(envelope.id, envelope.type, envelope.correlation_id)
        carrier = {k: _text(v) for k, v in headers.items() if k in ("traceparent", "tracestate")}
        # Under FastStream's telemetry middleware a consumer span is already current and continues the
        # sender's trace: nest under it rather than start a sibling from the headers.
        parent = None if trace.get_current_span().get_span_context().is_valid else propagate.extract(carrier)
        with (
            tracer.start_as_current_span(
                f"{self.queue} handle",
                context=parent,
                kind=SpanKind.INTERNAL if parent is None else SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "rabbitmq",
                    "messaging.operation": "process",
                    "messaging.destination.name": self.queue,
                    "messaging.message.id": str(envelope.id),
                    "messaging.message.conversation_id": envelope.correlation_id or "",
                    "cloudevents.event_type": envelope.type,
                },
            ) as span,
            context.bound(handling),
        ):
            try:
                async with self._uow_factory() as uow:
                    claimed = await inbox.claim(
                        uow.session, consumer=self.queue, message_id=envelope.id, message_type=envelope.type
                    )
                    if not claimed:
                        log.info("%s skips %s %s: already handled", self.queue, envelope.type, envelope.id)
                        span.set_attribute("folio.duplicate", True)
                        count(self.queue, Outcome.DUPLICATE)
                        return
                    await self.subscription.handle(message, uow)
                    if uow.session.in_transaction():
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
        await self._republish(copy_message(raw, headers), retry_queue_name(self.queue, next_attempt))
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
        await self._republish(copy_message(raw, headers), parking_queue_name(self.queue))
        count(self.queue, Outcome.PARKED)
