"""The relay's hot path builds AMQP properties itself: they must be exactly those of ``to_message``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from chassis.outbox.publisher import properties, to_message
from chassis.outbox.store import PendingRow
from contracts.envelope import CORRELATION_ID, SOURCE, TIME


def row(headers: dict[str, Any]) -> PendingRow:
    return PendingRow(
        id=1,
        message_id=uuid4(),
        exchange="catalog.events",
        routing_key="folio.catalog.book-priced.v1",
        type="folio.catalog.book-priced.v1",
        body=b'{"book_id": "b"}',
        headers=headers,
        created_at=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        attempts=0,
    )


@pytest.mark.parametrize(
    "headers",
    [
        {TIME: "2026-01-02T03:04:05.678Z", SOURCE: "catalog", CORRELATION_ID: "c-1", "traceparent": "00-x"},
        # No time header: the row's commit time; no source nor correlation: no such properties.
        {},
        # An unreadable time: no timestamp at all, as aio-pika makes of it.
        {TIME: "not a time", SOURCE: "catalog"},
    ],
)
def test_properties_are_those_of_the_aio_pika_message(headers: dict[str, Any]) -> None:
    pending = row(headers)
    assert properties(pending, pending.headers) == to_message(pending).properties


def test_properties_carry_the_headers_given() -> None:
    pending = row({SOURCE: "catalog"})
    traced = {**pending.headers, "traceparent": "00-abc-def-01"}
    assert properties(pending, traced).headers == traced
