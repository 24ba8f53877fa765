"""Putting a contract message on the bus as its producer would: the outbox's row, sent as the relay sends it.

The envelope comes from ``chassis.uow.outbox_row`` and the AMQP message from the relay's own
``to_message``, so a consumer under test sees exactly the headers and properties a real producer's relay
publishes, and a change there reaches every test at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from uuid import UUID

from aio_pika.abc import AbstractConnection

from chassis.outbox.publisher import to_message
from chassis.outbox.store import PendingRow
from chassis.uow import outbox_row
from contracts.base import Message
from contracts.envelope import Envelope, new_id, utcnow


def producer_envelope(message: Message, *, source: str | None = None, **fields: Any) -> Envelope:
    """The envelope the outbox writes for ``message`` (from its owner unless ``source`` names the sender);
    ``fields`` override its other attributes (``id`` to redeliver, ``correlation_id``, ...)."""
    row = outbox_row(message, source=source or f"/folio/{message.OWNER}")
    return replace(Envelope.from_headers(row["headers"]), **fields)


async def publish_contract_message(
    connection: AbstractConnection,
    message: Message,
    *,
    envelope: Envelope | None = None,
    body: bytes | None = None,
    mandatory: bool = True,
) -> Envelope:
    """Publish ``message`` with ``envelope`` (its producer's by default); a ``body`` replaces its JSON.

    Returns the envelope, whose ``id`` is the message id the consumer's inbox records.
    """
    envelope = envelope or producer_envelope(message)
    row = outbox_row(message, source=envelope.source)
    await publish_raw(
        connection,
        exchange=row["exchange"],
        routing_key=row["routing_key"],
        body=body if body is not None else row["body"],
        headers=envelope.to_headers(),
        message_type=message.TYPE,
        message_id=envelope.id,
        mandatory=mandatory,
    )
    return envelope


async def publish_raw(
    connection: AbstractConnection,
    *,
    exchange: str,
    routing_key: str,
    body: bytes,
    headers: Mapping[str, Any],
    message_type: str | None = None,
    message_id: UUID | None = None,
    mandatory: bool = True,
) -> None:
    """Publish a delivery a producer got wrong (no envelope, a broken body), otherwise as the relay does.

    With publisher confirms: it is in its queue (``mandatory``: or refused) when this returns.
    """
    pending = PendingRow(
        id=0,
        message_id=message_id or new_id(),
        exchange=exchange,
        routing_key=routing_key,
        type=message_type or routing_key,
        body=body,
        headers=dict(headers),
        created_at=utcnow(),
        attempts=0,
    )
    channel = await connection.channel(publisher_confirms=True)
    try:
        target = await channel.get_exchange(exchange)
        await target.publish(to_message(pending), routing_key=routing_key, mandatory=mandatory)
    finally:
        await channel.close()
