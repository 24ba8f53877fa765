"""A PostgreSQL restart under the chassis' pools (``chassis.db``): on a server of the test's own (the
machine's shared one is never restarted), the pool replaces the connections the server closed, a worker
handles every message once without spending a retry, and an API answers 200 or a 503 with ``Retry-After``,
never a 500. What any change to the pools' options (pre-ping) must keep."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar
from uuid import uuid4

import aio_pika
import asyncpg
import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import Column, Integer, MetaData, Table, Text, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.app import UnitOfWorkDep, create_api
from chassis.db import asyncpg_dsn, create_chassis_tables, create_engine, session_factory
from chassis.db_metrics import CONNECTS
from chassis.definition import ServiceDefinition
from chassis.messaging.consumer import RetryPolicy, Subscription, database_probe
from chassis.messaging.metrics import MESSAGES
from chassis.messaging.parked import list_parked
from chassis.messaging.recovery import Recovery
from chassis.messaging.topology import events_exchange
from chassis.messaging.worker import build_broker
from chassis.migrations import upgrade_to_head
from chassis.settings import ServiceSettings
from chassis.uow import UnitOfWork
from contracts.base import Event
from devstack import private_postgres
from devstack.private_postgres import PrivatePostgres
from testkit.polling import eventually
from testkit.publishing import publish_contract_message

pytestmark = pytest.mark.integration

SCRIPTS = Path(__file__).parent / "alembic_scripts"
# Long enough that the pools' connections are all closed by the server and none is opened meanwhile.
DOWN_FOR = 1.0


@pytest.fixture(scope="module")
def server() -> Iterator[PrivatePostgres]:
    if not private_postgres.available():
        pytest.skip(f"needs initdb and pg_ctl in {private_postgres.BIN}")
    server = PrivatePostgres(Path(tempfile.mkdtemp(prefix="folio-pg-")), max_connections=50).start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
async def private_url(server: PrivatePostgres) -> str:
    """A fresh database on the private server."""
    name = f"folio_restart_{uuid4().hex[:12]}"
    admin = await asyncpg.connect(asyncpg_dsn(server.url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return server.url.rsplit("/", 1)[0] + f"/{name}"


async def restart(server: PrivatePostgres) -> None:
    # In a thread, so that the event loop goes on reading the pooled connections' sockets meanwhile, as a
    # service's does during a real restart.
    await asyncio.to_thread(server.restart, DOWN_FOR)


async def one_transaction(engine: AsyncEngine, hold: float = 0.0) -> int:
    async with UnitOfWork(session_factory(engine), source="test") as uow:
        value = int((await uow.session.execute(text("SELECT 1"))).scalar_one())
        await asyncio.sleep(hold)
        await uow.commit()
        return value


async def test_a_pool_replaces_the_connections_a_restart_closed(
    server: PrivatePostgres, private_url: str
) -> None:
    engine = create_engine(private_url, pool_size=4, max_overflow=0)
    try:
        # Four connections in the pool, all opened before the restart.
        assert await asyncio.gather(*(one_transaction(engine, hold=0.2) for _ in range(4))) == [1] * 4
        opened = CONNECTS._value.get()

        await restart(server)

        # Every one of them closed by the server, each replaced at checkout: no transaction sees an error.
        assert await asyncio.gather(*(one_transaction(engine, hold=0.2) for _ in range(4))) == [1] * 4
        assert CONNECTS._value.get() - opened == 4
    finally:
        await engine.dispose()


class Poked(Event):
    TYPE: ClassVar[str] = "folio.upstream.poked.v1"
    OWNER: ClassVar[str] = "upstream"
    SUBJECT: ClassVar[str] = "poke_id"

    poke_id: str


pokes_metadata = MetaData()
pokes = Table(
    "pokes",
    pokes_metadata,
    # No unique key: only the inbox keeps a redelivered poke from a second row.
    Column("row", Integer, primary_key=True, autoincrement=True),
    Column("poke_id", Text, nullable=False),
)


def retried_or_parked(queue: str) -> float:
    return sum(MESSAGES.labels(queue, outcome)._value.get() for outcome in ("retried", "parked"))


async def test_a_worker_handles_every_message_once_across_a_restart(
    server: PrivatePostgres, private_url: str, amqp_url: str
) -> None:
    engine = create_engine(private_url)
    await create_chassis_tables(engine)
    async with engine.begin() as connection:
        await connection.run_sync(pokes_metadata.create_all)
    sessions = session_factory(engine)

    def uow() -> UnitOfWork:
        return UnitOfWork(sessions, source="/svc")

    async def handle(poke: Poked, uow: UnitOfWork) -> None:
        await uow.session.execute(insert(pokes).values(poke_id=poke.poke_id))
        await asyncio.sleep(0.05)  # deliveries in hand while the server goes away

    queue = "restartsvc.poke"
    spent_before = retried_or_parked(queue)
    amqp = await aio_pika.connect(amqp_url)
    upstream = events_exchange("upstream")
    channel = await amqp.channel()
    await channel.declare_exchange(upstream.name, type=upstream.type.value, durable=True)
    broker = build_broker(
        service="restartsvc",
        amqp_url=amqp_url,
        subscriptions=[Subscription("poke", (Poked,), handle)],
        uow_factory=uow,
        retry=RetryPolicy((0.2, 0.4)),
        prefetch=8,
        graceful_timeout=0.5,
        recovery=Recovery(database_probe(uow), first_pause=0.1, longest_pause=0.5),
    )
    await broker.start()
    handled = select(func.count(func.distinct(pokes.c.poke_id)))
    try:
        for n in range(40):
            await publish_contract_message(amqp, Poked(poke_id=f"before-{n}"))

        async def some_handled() -> bool:
            async with engine.connect() as connection:
                return int((await connection.execute(handled)).scalar_one()) >= 10

        await eventually(some_handled)
        restarting = asyncio.create_task(restart(server))
        for n in range(40):
            await publish_contract_message(amqp, Poked(poke_id=f"during-{n}"))
        await restarting

        async def all_handled() -> bool:
            try:
                async with engine.connect() as connection:
                    return int((await connection.execute(handled)).scalar_one()) == 80
            except Exception:
                return False

        await eventually(all_handled, within=60)
        async with engine.connect() as connection:
            assert int((await connection.execute(select(func.count()).select_from(pokes))).scalar_one()) == 80
        assert retried_or_parked(queue) == spent_before, "an outage never spends a retry"
        assert await list_parked(amqp_url, queue) == []
    finally:
        await broker.stop()
        await amqp.close()
        await engine.dispose()


def answering_router() -> APIRouter:
    router = APIRouter()

    @router.get("/api/v1/answer")
    async def answer(uow: UnitOfWorkDep) -> dict[str, int]:
        async with uow:
            return {"answer": int((await uow.session.execute(text("SELECT 42"))).scalar_one())}

    return router


async def test_an_api_answers_200_or_503_with_retry_after_across_a_restart(
    server: PrivatePostgres, private_url: str
) -> None:
    await upgrade_to_head(SCRIPTS, private_url)
    definition: ServiceDefinition[ServiceSettings, UnitOfWork] = ServiceDefinition(
        name="widgets",
        settings_factory=lambda: ServiceSettings(database_url=private_url, amqp_url="amqp://unused/"),
        uow_factory=lambda sessions: lambda: UnitOfWork(sessions, source="widgets"),
        migrations_dir=SCRIPTS,
        routers=[answering_router()],
    )
    api = create_api(definition)
    async with (
        api.router.lifespan_context(api),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as http,
    ):

        async def requests() -> list[httpx.Response]:
            return list(await asyncio.gather(*(http.get("/api/v1/answer") for _ in range(8))))

        assert {r.status_code for r in await requests()} == {200}

        restarting = asyncio.create_task(restart(server))
        answers: list[httpx.Response] = []
        while not restarting.done():  # during the outage too
            answers.extend(await requests())
            await asyncio.sleep(0.05)
        answers.extend(await requests())

        assert {r.status_code for r in answers} <= {200, 503}, [r.text for r in answers]
        assert all(r.headers.get("Retry-After") for r in answers if r.status_code == 503)
        assert any(r.status_code == 503 for r in answers), "the outage was seen"
        # Back at once: the restart's closed connections were replaced, not handed out.
        assert {r.status_code for r in await requests()} == {200}
