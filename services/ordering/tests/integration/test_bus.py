"""What ordering does with messages that can never be handled: parked with their reason, nothing changed."""

from __future__ import annotations

import json

import pytest

from chassis.messaging.parked import list_parked
from contracts.catalog import StockReserved
from contracts.envelope import Envelope, new_id

pytestmark = pytest.mark.integration


@pytest.mark.saga_deadline(60)
async def test_a_malformed_stock_reserved_is_parked_with_its_reason_and_changes_nothing(
    ordering, helpers
) -> None:
    ordering.catalog.decide = helpers.always("silent")
    order_id = await ordering.place()
    envelope = Envelope(type=StockReserved.TYPE, source="/folio/catalog", subject=str(order_id))
    body = json.dumps({"order_id": str(order_id), "lines": [], "total": {"amount": 3.5, "currency": "EUR"}})

    await ordering.catalog.publish_raw(body.encode(), envelope.to_headers(), StockReserved.TYPE)

    async def parked() -> bool:
        return bool(await list_parked(ordering.settings.amqp_url, "ordering.stock_reserved"))

    await helpers.eventually(parked, what="the message to be parked")
    [message] = await list_parked(ordering.settings.amqp_url, "ordering.stock_reserved")
    assert message.id == str(envelope.id)
    assert message.error_type == "ValidationError"
    assert "lines" in (message.error or "")
    assert await ordering.status(order_id) == ("pending", "awaiting_stock")
    assert await ordering.changes(order_id) == ["placed"]


async def test_a_message_without_a_cloudevents_envelope_is_parked(ordering, helpers) -> None:
    await ordering.catalog.publish_raw(
        b'{"order_id": "x"}', {"cloudEvents_id": str(new_id())}, StockReserved.TYPE
    )

    async def parked() -> bool:
        return bool(await list_parked(ordering.settings.amqp_url, "ordering.stock_reserved"))

    await helpers.eventually(parked, what="the message to be parked")
    [message] = await list_parked(ordering.settings.amqp_url, "ordering.stock_reserved")
    assert message.error_type == "InvalidEnvelope"
