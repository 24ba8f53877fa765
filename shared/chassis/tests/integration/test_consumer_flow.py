"""The consumer on the real RabbitMQ and PostgreSQL: inbox, retries with growing delay, parking, replay."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import aio_pika
import fast_depends.utils
import pamqp.encode
import pytest
from faststream import BaseMiddleware
from faststream.rabbit import RabbitBroker
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from chassis.messaging import context
from chassis.messaging.consumer import ATTEMPT, DEFAULT_HOLD_LIMIT, RetryPolicy, Subscription, database_probe
from chassis.messaging.parked import ParkedMessage, list_parked, replay
from chassis.messaging.recovery import Recovery
from chassis.messaging.topology import events_exchange
from chassis.messaging.worker import build_broker
from chassis.tables import inbox
from chassis.tables import metadata as chassis_metadata
from chassis.uow import UnitOfWork
from contracts.base import Event
from contracts.envelope import Envelope
from folio_ops.parked_cli import main as parked_cli
from testkit.faults import refusing_connections
from testkit.polling import eventually
from testkit.publishing import producer_envelope, publish_contract_message
from testkit.resources import management_client

pytestmark = pytest.mark.integration

DELAYS = (0.2, 0.4, 0.8)
# For timing what the retries do: far enough apart that a loaded machine's jitter cannot reorder them.
SPREAD_DELAYS = (0.3, 0.6, 2.4)
QUEUE = "svc.ping"


class Ping(Event):
    TYPE: ClassVar[str] = "folio.upstream.ping.v1"
    OWNER: ClassVar[str] = "upstream"
    SUBJECT: ClassVar[str] = "ping_id"

    ping_id: str
    n: int


test_metadata = MetaData()
effects = Table(
    "effects",
    test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ping_id", Text, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("correlation_id", Text),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


class PingUnitOfWork(UnitOfWork):
    async def record(self, ping: Ping) -> None:
        handling = context.current()
        row = {"ping_id": ping.ping_id, "message_id": str(handling.message_id)}
        await self.session.execute(insert(effects).values(**row, correlation_id=handling.correlation_id))


@dataclass
class Behaviour:
    """What the test handler does: fails for some ping ids, and notes when each attempt ran."""

    failing: set[str] = field(default_factory=set)
    # Ping ids whose handler never returns: the worker dies with them in hand.
    hanging: set[str] = field(default_factory=set)
    attempts: dict[str, list[float]] = field(default_factory=dict)

    async def handle(self, ping: Ping, uow: PingUnitOfWork) -> None:
        self.attempts.setdefault(ping.ping_id, []).append(time.monotonic())
        await uow.record(ping)
        if ping.ping_id in self.hanging:
            await asyncio.Event().wait()
        if ping.ping_id in self.failing:
            raise RuntimeError(f"boom on {ping.ping_id}")


@dataclass
class Harness:
    amqp_url: str
    engine: AsyncEngine
    behaviour: Behaviour
    connection: aio_pika.abc.AbstractConnection
    delays: tuple[float, ...] = DELAYS
    hold_limit: float = DEFAULT_HOLD_LIMIT
    brokers: list[RabbitBroker] = field(default_factory=list)
    # The headers of every delivery the worker received, as the broker delivered them.
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    async def start_worker(self) -> RabbitBroker:
        sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        deliveries = self.deliveries

        def uow() -> PingUnitOfWork:
            return PingUnitOfWork(sessions, source="/svc")

        class RecordDeliveries(BaseMiddleware):
            async def on_receive(self) -> None:
                deliveries.append(dict(self.msg.headers or {}))

        broker = build_broker(
            service="svc",
            amqp_url=self.amqp_url,
            subscriptions=[Subscription("ping", (Ping,), self.behaviour.handle)],
            uow_factory=uow,
            retry=RetryPolicy(self.delays),
            # One at a time, so that a message published after another is handled after it.
            prefetch=1,
            graceful_timeout=0.5,
            hold_limit=self.hold_limit,
            # Probes close together, so that a test sees the end of an outage soon after it ends.
            recovery=Recovery(database_probe(uow), first_pause=0.1, longest_pause=0.5),
            middlewares=[RecordDeliveries],
        )
        await broker.start()
        self.brokers.append(broker)
        return broker

    async def publish(
        self, ping_id: str, *, body: bytes | None = None, envelope: Envelope | None = None, n: int = 1
    ) -> Envelope:
        ping = Ping(ping_id=ping_id, n=n)
        envelope = envelope or producer_envelope(ping, source="/test", correlation_id=f"corr-{ping_id}")
        return await publish_contract_message(self.connection, ping, envelope=envelope, body=body)

    async def effects_of(self, ping_id: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(effects).where(effects.c.ping_id == ping_id))
            return [dict(r._mapping) for r in rows]

    async def inbox_count(self) -> int:
        async with self.engine.connect() as conn:
            return len((await conn.execute(select(inbox.c.message_id))).all())

    async def parked(self) -> list[ParkedMessage]:
        return await list_parked(self.amqp_url, QUEUE)


def async_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture
async def harness(request: pytest.FixtureRequest, database_url: str, amqp_url: str) -> AsyncIterator[Harness]:
    """A worker on a fresh database and vhost; ``indirect`` parametrization sets its retry delays."""
    engine = create_async_engine(async_url(database_url))
    async with engine.begin() as conn:
        await conn.run_sync(chassis_metadata.create_all)
        await conn.run_sync(test_metadata.create_all)
    connection = await aio_pika.connect(amqp_url)
    # The upstream service (or the bootstrap) declares its own events exchange; the consumer only binds to it.
    upstream = events_exchange("upstream")
    setup = await connection.channel()
    await setup.declare_exchange(upstream.name, type=upstream.type.value, durable=True)
    await setup.close()
    harness = Harness(amqp_url, engine, Behaviour(), connection, getattr(request, "param", DELAYS))
    await harness.start_worker()
    try:
        yield harness
    finally:
        for broker in harness.brokers:
            await broker.stop()
        await connection.close()
        await engine.dispose()


async def test_a_delivery_is_handled_on_the_event_loop_without_a_worker_thread(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A synchronous dependency of the handler (FastStream's ``Context`` parameter was one) made
    # fast_depends hop to a worker thread for every delivery; the broker applies no fast_depends now, and
    # nothing else on the path may send a delivery's work to a thread either.
    hops: list[object] = []

    async def no_thread(func: object, *args: object, **kwargs: object) -> object:
        hops.append(func)
        raise AssertionError(f"{func!r} was sent to a worker thread")

    monkeypatch.setattr(fast_depends.utils, "run_in_threadpool", no_thread)
    await harness.publish("on-the-loop")

    async def handled() -> bool:
        return bool(await harness.effects_of("on-the-loop"))

    await eventually(handled)
    assert hops == []
    assert len(harness.behaviour.attempts["on-the-loop"]) == 1


async def test_a_message_handled_twice_has_one_effect(harness: Harness) -> None:
    first = await harness.publish("dup")
    await harness.publish("dup", envelope=first)
    await harness.publish("after")  # handled after both copies: prefetch 1 on a FIFO queue

    async def after_done() -> bool:
        return bool(await harness.effects_of("after"))

    await eventually(after_done)
    rows = await harness.effects_of("dup")
    assert len(rows) == 1
    assert rows[0]["message_id"] == str(first.id)
    assert rows[0]["correlation_id"] == "corr-dup"
    assert len(harness.behaviour.attempts["dup"]) == 1
    assert await harness.inbox_count() == 2


@pytest.mark.parametrize("harness", [SPREAD_DELAYS], indirect=True, ids=["spread_delays"])
async def test_a_failing_handler_is_retried_with_growing_delay_then_parked(harness: Harness) -> None:
    delays = SPREAD_DELAYS
    harness.behaviour.failing.add("bad")
    envelope = await harness.publish("bad")

    # The consumer is not blocked while "bad" waits in its delay queues.
    await asyncio.sleep(0.05)
    for i in range(3):
        await harness.publish(f"good-{i}")

    async def goods_done() -> bool:
        return all([await harness.effects_of(f"good-{i}") for i in range(3)])

    await eventually(goods_done)

    async def parked() -> bool:
        return len(await harness.parked()) == 1

    await eventually(parked)
    runs = harness.behaviour.attempts["bad"]
    assert len(runs) == len(delays) + 1
    goods_handled = [harness.behaviour.attempts[f"good-{i}"][0] for i in range(3)]
    assert max(goods_handled) < runs[-1], "others were handled before bad's last attempt"
    gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
    # Each retry waited at least its own delay, and the delays configured grow; load only lengthens gaps.
    for gap, delay in zip(gaps, delays, strict=True):
        assert gap >= delay * 0.9, f"retried too soon: {gaps} for delays {delays}"
    assert gaps[0] < gaps[-1], f"delays must grow: {gaps}"
    # Every failed attempt rolled back, inbox row included.
    assert await harness.effects_of("bad") == []

    (message,) = await harness.parked()
    assert message.id == str(envelope.id)
    assert message.type == Ping.TYPE
    assert message.error_type == "RuntimeError"
    assert message.error is not None
    assert "boom on bad" in message.error
    assert message.attempts == len(delays) + 1
    assert message.parked_at is not None
    # Listing left it in place.
    assert [m.id for m in await harness.parked()] == [str(envelope.id)]


async def test_an_invalid_body_is_parked_at_once(harness: Harness) -> None:
    missing_field = await harness.publish("invalid", body=json.dumps({"ping_id": "invalid"}).encode())
    not_json = await harness.publish("garbage", body=b"\x00not json")
    await harness.publish("fine")

    async def both_parked() -> bool:
        return len(await harness.parked()) == 2

    await eventually(both_parked)
    parked = {m.id: m for m in await harness.parked()}
    invalid = parked[str(missing_field.id)]
    assert invalid.error_type == "ValidationError"
    assert invalid.error is not None
    assert "n" in invalid.error
    assert "Field required" in invalid.error
    assert invalid.attempts == 0
    assert parked[str(not_json.id)].error_type == "InvalidMessage"
    assert "invalid" not in harness.behaviour.attempts
    assert await harness.effects_of("fine")


async def test_a_message_with_a_bad_envelope_or_type_is_parked_at_once(harness: Harness) -> None:
    other = Envelope(type="folio.upstream.pong.v1", source="/test", subject="x")
    await harness.publish("wrong-type", envelope=other)
    channel = await harness.connection.channel()
    exchange = await channel.get_exchange(Ping.exchange())
    no_envelope = aio_pika.Message(Ping(ping_id="anon", n=1).to_json(), message_id="no-envelope")
    await exchange.publish(no_envelope, routing_key=Ping.TYPE)
    await channel.close()

    parked: dict[str | None, ParkedMessage] = {}

    async def both_parked() -> bool:
        # By id, not by count: one CI run counted two entries of which "no-envelope" was not one.
        parked.update((m.id, m) for m in await harness.parked())
        return {str(other.id), "no-envelope"} <= parked.keys()

    await eventually(both_parked)
    assert parked[str(other.id)].error_type == "UnexpectedType"
    assert parked["no-envelope"].error_type == "InvalidEnvelope"
    assert harness.behaviour.attempts == {}


async def test_a_parked_message_is_replayed_and_then_succeeds(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    harness.behaviour.failing.update({"flaky", "still-bad"})
    flaky = await harness.publish("flaky")
    still_bad = await harness.publish("still-bad")

    async def both_parked() -> bool:
        return len(await harness.parked()) == 2

    await eventually(both_parked)

    assert (
        await asyncio.to_thread(
            parked_cli, ["--amqp-url", harness.amqp_url, "list", "--queue", QUEUE, "--json"]
        )
        == 0
    )
    listed = json.loads(capsys.readouterr().out)
    assert {m["id"] for m in listed} == {str(flaky.id), str(still_bad.id)}

    harness.behaviour.failing.discard("flaky")
    assert await replay(harness.amqp_url, QUEUE, [str(flaky.id)]) == [str(flaky.id)]

    async def flaky_done() -> bool:
        return bool(await harness.effects_of("flaky"))

    await eventually(flaky_done)
    assert len(await harness.effects_of("flaky")) == 1
    # Replayed with its attempts reset: one more run after the four that failed.
    assert len(harness.behaviour.attempts["flaky"]) == len(DELAYS) + 2
    assert [m.id for m in await harness.parked()] == [str(still_bad.id)]

    # The CLI replays the rest; it still fails, so it is retried again and parked again.
    code = await asyncio.to_thread(
        parked_cli, ["--amqp-url", harness.amqp_url, "replay", "--queue", QUEUE, "--reason", "fixed"]
    )
    assert code == 0
    assert "replayed 1 message(s)" in capsys.readouterr().out

    async def reparked() -> bool:
        return len(harness.behaviour.attempts["still-bad"]) == 2 * (len(DELAYS) + 1) and bool(
            await harness.parked()
        )

    await eventually(reparked)
    (again,) = await harness.parked()
    assert again.id == str(still_bad.id)
    assert again.attempts == len(DELAYS) + 1


async def test_a_worker_dying_before_its_ack_leaves_the_message_to_the_next_one(harness: Harness) -> None:
    harness.behaviour.hanging.add("crash")
    await harness.publish("crash")

    async def in_hand() -> bool:
        return "crash" in harness.behaviour.attempts

    await eventually(in_hand)
    (dying,) = harness.brokers
    await dying.stop()  # the handler is cancelled mid-transaction and nothing was acked
    harness.brokers.remove(dying)

    harness.behaviour.hanging.clear()
    await harness.start_worker()

    async def redelivered() -> bool:
        return bool(await harness.effects_of("crash"))

    await eventually(redelivered)
    assert len(harness.behaviour.attempts["crash"]) == 2
    assert len(await harness.effects_of("crash")) == 1
    assert await harness.parked() == []


async def queue_state(amqp_url: str, queue: str) -> dict[str, Any]:
    """What the management API says of ``queue``: its consumers and ready and unacked counts."""
    vhost = amqp_url.rsplit("/", 1)[1]
    async with management_client() as api:
        response = await api.get(f"/api/queues/{vhost}/{queue}")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


async def test_a_message_delivered_while_its_database_is_away_is_handled_once_after_it_returns(
    harness: Harness, database_url: str
) -> None:
    retry_budget = sum(harness.delays)
    async with refusing_connections(database_url):
        envelope = await harness.publish("outage")

        async def delivered() -> bool:
            return bool(harness.deliveries)

        await eventually(delivered)
        # The outage outlasts every retry the message could have spent.
        await asyncio.sleep(retry_budget * 1.5)
        assert await harness.parked() == []
        assert len(harness.deliveries) == 1, "held, not redelivered"

    async def handled() -> bool:
        return bool(await harness.effects_of("outage"))

    await eventually(handled)
    assert len(await harness.effects_of("outage")) == 1
    assert len(harness.behaviour.attempts["outage"]) == 1
    (delivery,) = harness.deliveries
    assert ATTEMPT not in delivery
    assert delivery["cloudEvents_id"] == str(envelope.id)
    assert await harness.parked() == []


async def test_an_outage_longer_than_the_hold_pauses_the_queue_and_costs_one_redelivery(
    harness: Harness, database_url: str
) -> None:
    (first,) = harness.brokers
    await first.stop()
    harness.brokers.remove(first)
    harness.hold_limit = 0.5
    await harness.start_worker()

    async with refusing_connections(database_url):
        await harness.publish("long-outage")
        await harness.publish("behind-it")

        async def paused_with_both_back_in_the_queue() -> bool:
            state = await queue_state(harness.amqp_url, QUEUE)
            return state.get("consumers") == 0 and state.get("messages_ready") == 2

        await eventually(paused_with_both_back_in_the_queue)
        await asyncio.sleep(sum(harness.delays) * 1.5)
        assert len(harness.deliveries) == 1, "nothing delivered while paused"

    async def both_handled() -> bool:
        return bool(await harness.effects_of("long-outage")) and bool(await harness.effects_of("behind-it"))

    # Handled at all only once the queue's consumer was resumed.
    await eventually(both_handled)
    assert [len(harness.behaviour.attempts[p]) for p in ("long-outage", "behind-it")] == [1, 1]
    assert all(ATTEMPT not in headers for headers in harness.deliveries)
    assert await harness.parked() == []


@pytest.mark.parametrize("value", [b"\xff\xfe not utf-8", bytearray(b"\xc3\x28")], ids=["string", "bytes"])
async def test_a_message_whose_headers_are_not_utf8_is_parked_with_its_reason(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, value: bytes
) -> None:
    # aio-pika only sends valid strings; other clients send a long string of any bytes. So does this one.
    encode_value = pamqp.encode.encode_table_value

    def long_string_of_any_bytes(item: Any) -> bytes:
        if type(item) is bytes:
            return b"S" + len(item).to_bytes(4, "big") + item
        return encode_value(item)

    monkeypatch.setattr(pamqp.encode, "encode_table_value", long_string_of_any_bytes)
    envelope = Envelope(type=Ping.TYPE, source="/test", subject="bytes")
    headers: dict[str, Any] = dict(envelope.to_headers())
    headers["cloudEvents_source"] = value
    channel = await harness.connection.channel()
    exchange = await channel.get_exchange(Ping.exchange())
    message = aio_pika.Message(Ping(ping_id="bytes", n=1).to_json(), headers=headers)
    await exchange.publish(message, routing_key=Ping.TYPE)
    await channel.close()
    monkeypatch.undo()

    async def parked() -> bool:
        return len(await harness.parked()) == 1

    await eventually(parked)
    (parked_message,) = await harness.parked()
    assert parked_message.id == str(envelope.id)
    assert parked_message.error_type == "UnicodeDecodeError"
    assert parked_message.error is not None
    assert "invalid envelope" in parked_message.error
    assert len(harness.deliveries) == 1
    assert harness.behaviour.attempts == {}
