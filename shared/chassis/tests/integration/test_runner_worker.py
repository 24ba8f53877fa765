"""The worker role in-process on the real servers: relay to consumer, probes, traces, graceful stop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote, urlsplit
from uuid import uuid4

import aio_pika
import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, select

from chassis.db import create_engine, session_factory
from chassis.definition import AppResources, ServiceDefinition
from chassis.messaging.consumer import Subscription
from chassis.migrations import upgrade_to_head
from chassis.runner import BROKER_STOP_TIMEOUT, TASK_STOP_TIMEOUT, run_worker
from chassis.settings import ServiceSettings
from chassis.tables import inbox, outbox
from chassis.uow import UnitOfWork, outbox_row
from contracts.base import Command
from contracts.catalog import BookCreated
from contracts.examples import example
from testkit.faults import replies_withheld
from testkit.polling import eventually
from testkit.ports import free_port
from testkit.resources import management_client

pytestmark = pytest.mark.integration

SCRIPTS = Path(__file__).parent / "alembic_scripts"
SERVICE = "rating"
HANDLER = "runner-test"
QUEUE = f"{SERVICE}.{HANDLER}"


@dataclass
class Handler:
    """Records each book it handles and the trace it ran in; can be made slow to test a graceful stop."""

    slow: float = 0.0
    started: asyncio.Event = field(default_factory=asyncio.Event)
    handled: asyncio.Event = field(default_factory=asyncio.Event)
    trace_ids: list[int] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    # The resources each call of the service's gauge hook got.
    gauged: list[AppResources] = field(default_factory=list)

    async def collect_gauges(self, resources: AppResources) -> None:
        self.gauged.append(resources)

    async def handle(self, message: BookCreated, uow: UnitOfWork) -> None:
        self.started.set()
        self.trace_ids.append(trace.get_current_span().get_span_context().trace_id)
        await asyncio.sleep(self.slow)
        self.finished.append(message.title)
        self.handled.set()


@dataclass
class Worker:
    database_url: str
    amqp_url: str
    handler: Handler
    probe_port: int
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def publish_book(self) -> int:
        """Commit a BookCreated to the outbox (as catalog would) inside a span; returns its trace id."""
        engine = create_engine(self.database_url)
        # A provider of the test's own: installing a global one would change every later test's tracing.
        tracer = TracerProvider().get_tracer("test")
        try:
            with tracer.start_as_current_span("place a book") as span:
                async with UnitOfWork(session_factory(engine), source="catalog") as uow:
                    uow.send(example(BookCreated))
                    await uow.commit()
                return span.get_span_context().trace_id
        finally:
            await engine.dispose()


async def declare_catalog_events(amqp_url: str) -> None:
    # Catalog (or the bootstrap) owns its events exchange; the rating worker only binds to it.
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_exchange("catalog.events", aio_pika.ExchangeType.TOPIC, durable=True)


def worker_definition(
    database_url: str, amqp_url: str, handler: Handler
) -> ServiceDefinition[ServiceSettings, UnitOfWork]:
    return ServiceDefinition(
        name=SERVICE,
        settings_factory=lambda: ServiceSettings(database_url=database_url, amqp_url=amqp_url),
        uow_factory=lambda sessions: lambda: UnitOfWork(sessions, source=SERVICE),
        migrations_dir=SCRIPTS,
        publishes=(BookCreated,),
        relay=True,
        subscriptions=lambda: [Subscription(HANDLER, (BookCreated,), handler.handle)],
        gauges=[handler.collect_gauges],
    )


def relay_tasks() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == "outbox relay"]


@pytest.fixture
async def worker(database_url: str, amqp_url: str) -> AsyncIterator[Worker]:
    await upgrade_to_head(SCRIPTS, database_url)
    await declare_catalog_events(amqp_url)
    handler = Handler()
    definition = worker_definition(database_url, amqp_url, handler)
    settings = ServiceSettings(
        database_url=database_url,
        amqp_url=amqp_url,
        outbox_poll_interval=0.2,
        retry_delays=(0.2,),
        metrics_interval_seconds=0.2,
    )
    stop, started, port = asyncio.Event(), asyncio.Event(), free_port()
    task = asyncio.create_task(run_worker(definition, settings, stop, probe_port=port, started=started))
    await asyncio.wait({task, asyncio.create_task(started.wait())}, timeout=30, return_when="FIRST_COMPLETED")
    if task.done():
        task.result()
    assert started.is_set(), "the worker did not start consuming in 30s"
    running = Worker(database_url, amqp_url, handler, port, stop, task)
    try:
        yield running
    finally:
        stop.set()
        await asyncio.wait_for(task, 40)


async def scraped(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        text = (await http.get("/metrics")).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def wait_for_sample(port: int, name: str, labels: dict[str, str], value: float) -> None:
    key = (name, tuple(sorted(labels.items())))

    async def reached() -> None:
        assert (await scraped(port)).get(key) == value

    await eventually(reached, interval=0.1, what=f"{name}{labels} == {value}")


async def inbox_rows(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(select(inbox.c.consumer))).scalars())
    finally:
        await engine.dispose()


async def test_a_message_goes_from_the_outbox_to_the_handler_in_the_same_trace(worker: Worker) -> None:
    assert len(relay_tasks()) == 1
    trace_id = await worker.publish_book()

    await asyncio.wait_for(worker.handler.handled.wait(), 20)

    assert worker.handler.finished == ["Dune"]
    assert worker.handler.trace_ids == [trace_id]
    # The handler's flag is set inside the unit of work; its inbox row lands with the commit just after.
    expected = [f"{SERVICE}.{HANDLER}"]
    await eventually(lambda: _inbox_is(worker.database_url, expected), what="the delivery's inbox row")


async def _inbox_is(database_url: str, expected: list[str]) -> bool:
    return await inbox_rows(database_url) == expected


async def test_the_probe_server_answers_health_and_metrics(worker: Worker) -> None:
    await worker.publish_book()
    await asyncio.wait_for(worker.handler.handled.wait(), 20)

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{worker.probe_port}", timeout=10) as http:
        live = await http.get("/health/live")
        ready = await http.get("/health/ready")
        metrics = await http.get("/metrics")

    assert live.status_code == 200
    assert ready.status_code == 200, ready.json()
    assert {c["name"] for c in ready.json()["checks"]} == {"database", "broker", "migrations"}
    assert "folio_broker_received_processed_messages_total" in metrics.text
    assert "folio_outbox_published_total" in metrics.text


async def test_stop_lets_the_message_in_hand_finish_and_closes_everything(worker: Worker) -> None:
    worker.handler.slow = 1.0
    await worker.publish_book()
    await asyncio.wait_for(worker.handler.started.wait(), 20)

    worker.stop.set()
    await asyncio.wait_for(worker.task, 40)

    assert worker.handler.finished == ["Dune"]
    assert await inbox_rows(worker.database_url) == [f"{SERVICE}.{HANDLER}"]
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{worker.probe_port}") as http:
            await http.get("/health/live")


async def test_a_worker_stopped_while_waiting_for_the_broker_returns_quietly(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="chassis.lifecycle")
    settings = ServiceSettings(database_url=database_url, amqp_url="amqp://guest:guest@127.0.0.1:1/")
    definition = worker_definition(database_url, "unused", Handler())
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(definition, settings, stop, serve_probes=False))

    async def retrying_again() -> bool:
        # A worker that gave up on the unreachable broker, rather than waiting for it, has ended.
        assert not task.done(), "the worker ended while the broker was unreachable"
        failures = [r for r in caplog.records if r.getMessage().startswith("the broker is not reachable yet")]
        return len(failures) >= 2

    # Failed once, paused and failed again: it waits for the broker instead of giving up.
    await eventually(retrying_again, what="two failed attempts to reach the broker")
    assert not task.done()
    stop.set()

    await asyncio.wait_for(task, 10)


async def test_a_worker_stops_within_its_grace_while_the_broker_answers_nothing(
    database_url: str, amqp_url: str
) -> None:
    await upgrade_to_head(SCRIPTS, database_url)
    await declare_catalog_events(amqp_url)
    async with replies_withheld(amqp_url, 5672) as (url, silent):
        settings = ServiceSettings(database_url=database_url, amqp_url=url, outbox_poll_interval=0.2)
        definition = worker_definition(database_url, url, Handler())
        stop, started = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(
            run_worker(definition, settings, stop, serve_probes=False, started=started)
        )
        await asyncio.wait(
            {task, asyncio.create_task(started.wait())}, timeout=30, return_when="FIRST_COMPLETED"
        )
        assert started.is_set(), "the worker did not start consuming in 30s"
        silent.set()
        began = time.monotonic()
        stop.set()

        # Before, cancelling the consumer waited for a basic.cancel-ok that never came: no end at all.
        await asyncio.wait_for(task, BROKER_STOP_TIMEOUT + TASK_STOP_TIMEOUT + 10)
        took = time.monotonic() - began

    # The worker's manifest gives it 45 s between SIGTERM and SIGKILL.
    assert took < 45, f"the worker took {took:.0f}s to stop"


async def test_background_tasks_run_with_the_resources_and_a_failing_one_stops_the_worker(
    database_url: str, amqp_url: str
) -> None:
    await upgrade_to_head(SCRIPTS, database_url)
    await declare_catalog_events(amqp_url)
    seen: list[AppResources] = []

    async def scanner(resources: AppResources) -> None:
        seen.append(resources)
        async with resources.uow_factory() as uow:
            await uow.session.execute(select(inbox.c.consumer))
        raise RuntimeError("deadline scanner broke")

    definition = replace(worker_definition(database_url, amqp_url, Handler()), background=[scanner])
    settings = ServiceSettings(database_url=database_url, amqp_url=amqp_url)
    stop = asyncio.Event()

    with pytest.raises(RuntimeError, match="worker stopped") as failure:
        await asyncio.wait_for(run_worker(definition, settings, stop, serve_probes=False), 40)

    assert isinstance(failure.value.__cause__, RuntimeError)
    assert str(failure.value.__cause__) == "deadline scanner broke"
    assert seen[0].settings is settings
    assert seen[0].stop is stop
    assert stop.is_set()


async def test_the_broker_check_fails_on_a_dead_connection_and_passes_once_it_is_back(worker: Worker) -> None:
    vhost = quote(worker.amqp_url.rsplit("/", 1)[1], safe="")
    user = urlsplit(worker.amqp_url).username or "guest"
    permissions = f"/api/permissions/{vhost}/{quote(user, safe='')}"
    async with (
        management_client() as api,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{worker.probe_port}", timeout=10) as http,
    ):

        async def broker_status() -> str:
            response = await http.get("/health/ready")
            return {c["name"]: c["status"] for c in response.json()["checks"]}["broker"]

        async def ready() -> bool:
            return await broker_status() == "pass"

        async def not_ready() -> bool:
            return await broker_status() == "fail"

        await eventually(ready)
        # Only this test's vhost: its user loses access (so reconnecting fails) and its connections go.
        granted = (await api.get(permissions)).json()
        (await api.delete(permissions)).raise_for_status()
        try:
            closed: list[str] = []

            async def connections_closed() -> bool:
                # The listing lags behind the broker: closed only once it showed some and shows none.
                listed = (await api.get(f"/api/vhosts/{vhost}/connections")).json()
                for connection in listed:
                    await api.delete(f"/api/connections/{quote(connection['name'], safe='')}")
                    closed.append(connection["name"])
                return bool(closed) and not listed

            await eventually(connections_closed, within=30)
            await eventually(not_ready)
            assert (await http.get("/health/ready")).status_code == 503
        finally:
            body = {k: granted[k] for k in ("configure", "write", "read")}
            (await api.put(permissions, json=body)).raise_for_status()
        await eventually(ready, within=60)
        assert (await http.get("/health/ready")).status_code == 200


async def test_the_worker_metrics_show_outbox_rows_waiting_and_messages_parked_with_real_values(
    worker: Worker,
) -> None:
    # Two rows the relay may not take yet (a publish failed, they back off an hour), the oldest 10 min old.
    now = datetime.now(UTC)
    rows = [
        outbox_row(example(BookCreated), source=SERVICE)
        | {"created_at": now - timedelta(minutes=minutes), "available_at": now + timedelta(hours=1)}
        for minutes in (10, 1)
    ]
    engine = create_engine(worker.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(outbox).values(rows))
    finally:
        await engine.dispose()
    broker = await aio_pika.connect(worker.amqp_url)
    async with broker:
        channel = await broker.channel()
        await channel.default_exchange.publish(aio_pika.Message(b"{}"), routing_key=f"{QUEUE}.dlq")

    await wait_for_sample(worker.probe_port, "folio_outbox_pending", {"service": SERVICE}, 2)
    await wait_for_sample(worker.probe_port, "folio_parked_messages", {"queue": QUEUE}, 1)

    samples = await scraped(worker.probe_port)
    assert 600 <= samples[("folio_outbox_oldest_pending_age_seconds", (("service", SERVICE),))] < 700
    assert samples[("folio_outbox_failed", (("service", SERVICE),))] == 0
    assert worker.handler.gauged, "the service's own gauge hook was never called"
    assert worker.handler.gauged[0].definition.name == SERVICE


@asynccontextmanager
async def started_worker(
    definition: ServiceDefinition[ServiceSettings, UnitOfWork], settings: ServiceSettings
) -> AsyncIterator[None]:
    """``definition``'s worker, without probes, from the moment it consumes until the block ends."""
    await upgrade_to_head(SCRIPTS, settings.database_url)
    await declare_catalog_events(settings.amqp_url)
    stop, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_worker(definition, settings, stop, serve_probes=False, started=started))
    try:
        waiting = asyncio.create_task(started.wait())
        await asyncio.wait({task, waiting}, timeout=30, return_when="FIRST_COMPLETED")
        if task.done():
            task.result()
        assert started.is_set(), "the worker did not start consuming in 30s"
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 40)


async def test_a_worker_whose_definition_runs_no_relay_starts_none(database_url: str, amqp_url: str) -> None:
    definition = replace(worker_definition(database_url, amqp_url, Handler()), publishes=(), relay=False)
    settings = ServiceSettings(database_url=database_url, amqp_url=amqp_url)

    async with started_worker(definition, settings):
        # Every task of the worker is created before ``started`` is set, so a relay would be here by now.
        assert relay_tasks() == []


class Unheard(Command):
    """A command for a service that has never run: its ``<owner>.commands`` exchange does not exist."""

    TYPE: ClassVar[str] = "folio.absent.unheard.v1"
    OWNER: ClassVar[str] = f"absent-{uuid4().hex[:8]}"
    SUBJECT: ClassVar[str] = "unheard_id"

    unheard_id: str


async def test_the_publishers_of_what_a_worker_sends_declare_nothing_when_it_starts(
    database_url: str, amqp_url: str
) -> None:
    base = worker_definition(database_url, amqp_url, Handler())
    definition = replace(base, publishes=(*base.publishes, Unheard))
    settings = ServiceSettings(database_url=database_url, amqp_url=amqp_url)

    async with started_worker(definition, settings):
        # A started publisher would have declared the exchange, or failed the start on its absence.
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
                await channel.declare_exchange(f"{Unheard.OWNER}.commands", passive=True)
