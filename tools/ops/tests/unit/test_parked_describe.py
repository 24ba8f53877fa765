"""How a parked message is described, and how the CLI prints it, without a broker."""

from __future__ import annotations

from typing import Any, cast

from aio_pika.abc import AbstractIncomingMessage

from chassis.messaging.parked import ParkedMessage, describe
from folio_ops.parked_cli import _table


class Raw:
    def __init__(self, headers: dict[str, Any], message_id: str | None = None) -> None:
        self.headers = headers
        self.message_id = message_id


def test_describe_reads_the_consumers_headers() -> None:
    raw = Raw(
        {
            "cloudEvents_id": "id-1",
            "cloudEvents_type": "folio.test.ping.v1",
            "x-folio-error": b"RuntimeError: boom",
            "x-folio-error-type": "RuntimeError",
            "x-folio-attempts": 4,
            "x-folio-parked-at": "2026-01-01T00:00:00Z",
        }
    )
    assert describe(cast("AbstractIncomingMessage", raw)) == ParkedMessage(
        id="id-1",
        type="folio.test.ping.v1",
        error="RuntimeError: boom",
        error_type="RuntimeError",
        attempts=4,
        parked_at="2026-01-01T00:00:00Z",
    )


def test_describe_explains_a_message_the_broker_dead_lettered_itself() -> None:
    raw = Raw({"x-death": [{"queue": "svc.ping", "reason": "delivery_limit"}]}, message_id="amqp-1")
    parked = describe(cast("AbstractIncomingMessage", raw))
    assert parked.id == "amqp-1"
    assert parked.error == "dead-lettered by the broker from svc.ping: delivery_limit"
    assert parked.attempts is None


def test_table() -> None:
    assert _table([]) == "no parked messages"
    row = ParkedMessage(
        "id-1", "folio.test.ping.v1", "boom\ntrace", "RuntimeError", 4, "2026-01-01T00:00:00Z"
    )
    lines = _table([row]).splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("id-1")
    assert lines[1].endswith("boom")
