"""FastStream's parser and decoder for a queue's deliveries: the envelope, then the contract model.

The parser reads the CloudEvents envelope and the attempt count from the headers; the decoder checks the
type against what the queue takes and validates the body through the contracts registry and its
upcasters. Neither raises inside FastStream's parsing step: what can never be handled (a header that is
not UTF-8, a bad envelope, a type the queue does not take, a body that is not JSON or not valid) surfaces
as :class:`Unhandleable` when the delivery is decoded, inside the delivery middleware, which parks it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from faststream.message import StreamMessage
from faststream.rabbit.message import RabbitMessage

from contracts.base import Message
from contracts.envelope import (
    CAUSATION_ID,
    CORRELATION_ID,
    DATACONTENTTYPE,
    ID,
    SOURCE,
    SPECVERSION,
    SUBJECT,
    TIME,
    TRACEPARENT,
    TRACESTATE,
    TYPE,
    Envelope,
    InvalidEnvelope,
)
from contracts.registry import MessageRegistry
from contracts.upcasting import Upcasters

# How many times the message failed before; the consumer sets it on each retry.
ATTEMPT = "x-folio-attempt"
# The headers read as text: the envelope's and the attempt count.
TEXT_HEADERS = frozenset(
    {ID, SOURCE, TYPE, SPECVERSION, TIME, SUBJECT, DATACONTENTTYPE, CORRELATION_ID, CAUSATION_ID}
    | {TRACEPARENT, TRACESTATE, ATTEMPT}
)


class Unhandleable(ValueError):
    """The delivery can never be handled, however often it is delivered: it is parked at once."""

    def __init__(self, reason: str, error_type: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_type = error_type


class Delivery(RabbitMessage):
    """A RabbitMQ delivery with its envelope read (or the reason it could not be)."""

    envelope: Envelope | None
    attempt: int
    unreadable: Unhandleable | None


class ContractCodec:
    """Parses and decodes the deliveries of one queue, which takes ``messages``."""

    def __init__(self, queue: str, messages: tuple[type[Message], ...], upcasters: Upcasters | None) -> None:
        self.queue = queue
        self.registry = MessageRegistry(messages, upcasters)
        self.subscribed = frozenset(m.TYPE for m in messages)

    async def parse(
        self,
        raw: AbstractIncomingMessage,
        original: Callable[[AbstractIncomingMessage], Awaitable[StreamMessage[Any]]] | None = None,
    ) -> Delivery:
        delivery = Delivery(
            raw_message=raw,  # type: ignore[arg-type]  # FastStream's own parser takes the abstract type too
            body=raw.body,
            headers=dict(raw.headers or {}),
            reply_to=raw.reply_to or "",
            content_type=raw.content_type,
            message_id=raw.message_id,
            correlation_id=raw.correlation_id,
        )
        delivery.envelope, delivery.attempt, delivery.unreadable = None, 0, None
        try:
            headers = _readable_headers(delivery.headers)
            delivery.envelope = Envelope.from_headers(headers)
            delivery.attempt = int(str(headers.get(ATTEMPT, 0)) or 0)
        except (InvalidEnvelope, ValueError) as exc:
            # UnicodeDecodeError is a ValueError: a header that is not UTF-8 can never be read.
            delivery.unreadable = Unhandleable(f"invalid envelope: {exc}", type(exc).__name__)
        return delivery

    async def decode(
        self, message: StreamMessage[Any], original: Callable[..., Awaitable[Any]] | None = None
    ) -> Message:
        assert isinstance(message, Delivery)
        if message.unreadable is not None:
            raise message.unreadable
        assert message.envelope is not None
        message_type = message.envelope.type
        if self.registry.upcasters.newest(message_type) not in self.subscribed:
            reason = f"{self.queue} does not take {message_type!r}; it takes {sorted(self.subscribed)}"
            raise Unhandleable(reason, "UnexpectedType")
        try:
            return self.registry.parse(message_type, message.body)
        except ValueError as exc:  # pydantic's ValidationError, InvalidMessage and UpcastFailed all are
            raise Unhandleable(str(exc), type(exc).__name__) from exc


def _readable_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """The headers with the envelope's text as ``str``; UnicodeDecodeError when one is not UTF-8.

    The AMQP client hands over a string header that is not valid UTF-8 as bytes (and a byte array as
    bytearray): such a message can never be read, however often it is delivered.
    """
    readable = dict(headers)
    for name, value in headers.items():
        if name in TEXT_HEADERS and isinstance(value, bytes | bytearray):
            readable[name] = bytes(value).decode("utf-8")
    return readable
