"""``folio-parked`` on the real broker, in a vhost of the test's own, knowing only the service's name."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from chassis.messaging.parked import list_parked
from chassis.messaging.topology import declare
from chassis.messaging.worker import build_broker
from contracts.catalog import BookCreated
from contracts.envelope import Envelope
from contracts.examples import example
from folio_ops.parked_cli import main as parked_cli
from testkit.servers import test_servers as servers

pytestmark = pytest.mark.integration

SERVICE_DIR = Path(__file__).parent / "parked_service"
QUEUE = "parkedsvc.books"


@pytest.fixture
async def vhost(amqp_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The service's topology in a fresh vhost, its settings pointing there (as in an operator's shell)."""
    monkeypatch.syspath_prepend(str(SERVICE_DIR))
    monkeypatch.setenv("PARKEDSVC_AMQP_URL", amqp_url)
    monkeypatch.setenv("PARKEDSVC_RABBITMQ_MANAGEMENT_URL", servers().rabbitmq_management_url)
    from parkedsvc.entrypoints.definition import definition

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_exchange("catalog.events", aio_pika.ExchangeType.TOPIC, durable=True)
        # Another service's parking queue in the same vhost, which a vhost-wide list shows too.
        await channel.declare_queue("other.things.dlq", durable=True)
        await channel.default_exchange.publish(aio_pika.Message(b"{}"), routing_key="other.things.dlq")
    service = definition()
    broker = build_broker(
        service="parkedsvc",
        amqp_url=amqp_url,
        subscriptions=service.subscriptions(),
        uow_factory=lambda: None,
    )
    await broker.connect()
    try:
        await declare(broker, broker.topology)
    finally:
        await broker.stop()
    return amqp_url


async def park(amqp_url: str, count: int) -> list[str]:
    ids = []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        internal = await channel.get_exchange("parkedsvc.internal")
        for _ in range(count):
            envelope = Envelope(type=BookCreated.TYPE, source="/test")
            headers: dict[str, Any] = {
                **envelope.to_headers(),
                "x-folio-error": "boom",
                "x-folio-attempts": 4,
            }
            await internal.publish(
                aio_pika.Message(example(BookCreated).to_json(), headers=headers), routing_key=f"{QUEUE}.dlq"
            )
            ids.append(str(envelope.id))
    return ids


async def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(parked_cli, ["--service", "parkedsvc", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_list_without_a_queue_shows_every_parked_queue_of_the_vhost_with_counts(
    vhost: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await park(vhost, 2)

    code, out, _ = await run(capsys, "list", "--json")
    assert code == 0
    assert json.loads(out) == [{"queue": "other.things", "parked": 1}, {"queue": QUEUE, "parked": 2}]

    code, out, _ = await run(capsys, "list")
    assert code == 0
    assert "parkedsvc.books.dlq" in out
    assert "other.things.dlq" in out

    code, out, _ = await run(capsys, "list", "--queue", "books", "--json")
    assert code == 0
    assert [m["error"] for m in json.loads(out)] == ["boom", "boom"]


async def test_replay_and_discard_need_a_reason_and_are_logged_with_who_and_why(
    vhost: str, capsys: pytest.CaptureFixture[str]
) -> None:
    replayed, discarded, kept = await park(vhost, 3)

    with pytest.raises(SystemExit):
        await run(capsys, "replay", "--queue", "books")
    with pytest.raises(SystemExit):
        await run(capsys, "discard", "--queue", "books", "--reason", "junk")  # which ones?
    capsys.readouterr()

    code, out, err = await run(
        capsys, "replay", "--queue", "books", "--id", replayed, "--reason", "bug fixed"
    )
    assert code == 0
    assert f"replayed 1 message(s) to {QUEUE}" in out
    (logged,) = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert logged["action"] == "replay"
    assert (logged["queue"], logged["ids"], logged["reason"]) == (QUEUE, [replayed], "bug fixed")
    assert logged["by"]

    code, out, err = await run(
        capsys, "discard", "--queue", "books", "--id", discarded, "--reason", "test order", "--by", "ops"
    )
    assert code == 0
    (logged,) = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert (logged["action"], logged["ids"], logged["by"], logged["reason"]) == (
        "discard",
        [discarded],
        "ops",
        "test order",
    )

    assert [m.id for m in await list_parked(vhost, QUEUE)] == [kept]
    connection = await aio_pika.connect(vhost)
    async with connection:
        channel = await connection.channel()
        main = await channel.declare_queue(QUEUE, passive=True)
        assert main.declaration_result.message_count == 1
