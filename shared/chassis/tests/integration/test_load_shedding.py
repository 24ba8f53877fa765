"""Load shedding on a real app and the real PostgreSQL: an API at its bound refuses before doing anything
(503), a request that cannot get a database connection in time is refused quickly (503), a client past its
fair share of a full API is refused at once (429); each says when to come back, and a client that comes
back with its Idempotency-Key loses nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from sqlalchemy import text
from starlette.responses import Response

from chassis.app import UnitOfWorkDep, create_api
from chassis.auth import OptionalCaller
from chassis.auth.tokens import mint_local_token
from chassis.db import create_chassis_tables
from chassis.definition import ServiceDefinition
from chassis.http.idempotency import idempotency_key_header, idempotent
from chassis.settings import ServiceSettings
from chassis.uow import UnitOfWork

pytestmark = pytest.mark.integration


@dataclass
class Gate:
    """Holds every request that reaches the handler until the test opens it."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    held: int = 0

    async def holding(self, count: int) -> None:
        """Wait until ``count`` requests are held at the gate."""
        deadline = time.monotonic() + 10
        while self.held < count:
            assert time.monotonic() < deadline, f"{self.held} of {count} requests reached the handler"
            await asyncio.sleep(0.01)


def widgets_router(gate: Gate) -> APIRouter:
    router = APIRouter(prefix="/api/v1/widgets")

    @router.post("", status_code=201, dependencies=[Depends(idempotency_key_header)])
    async def add_widget(name: str, request: Request, caller: OptionalCaller, uow: UnitOfWorkDep) -> Response:
        async with uow, idempotent(request, caller, uow) as slot:
            if slot.replay is not None:
                return slot.replay
            result = await uow.session.execute(
                text("INSERT INTO widgets (name) VALUES (:name) RETURNING id"), {"name": name}
            )
            widget_id = int(result.scalar_one())
            gate.entered.set()
            gate.held += 1
            await gate.opened.wait()
            response = await slot.respond(201, {"id": widget_id})
            await uow.commit()
            return response

    return router


SECRET = "a-local-secret-for-the-shedding-tests-0123456789"
SHED_SETTINGS: dict[str, Any] = {
    "http_max_in_flight": 1,
    "http_max_wait_seconds": 0.05,
    "http_shed_retry_after_seconds": 3,
}


def definition(database_url: str, gate: Gate, **overrides: Any) -> ServiceDefinition:
    settings = ServiceSettings(
        database_url=database_url,
        amqp_url="amqp://guest:guest@127.0.0.1:1/",
        auth_local_secret=SECRET,
        **{**SHED_SETTINGS, **overrides},
    )
    return ServiceDefinition(
        name="widgets",
        settings_factory=lambda: settings,
        uow_factory=lambda sessions: lambda: UnitOfWork(sessions, source="widgets"),
        migrations_dir=Path(__file__).parent / "alembic_scripts",
        routers=[widgets_router(gate)],
    )


@dataclass
class Harness:
    app: FastAPI
    client: httpx.AsyncClient
    gate: Gate
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, client: str) -> str:
        """One token per client, as a real client keeps its own: the fair share tells clients apart by the
        token sent, and a token minted in a later second is another string."""
        if client not in self.tokens:
            self.tokens[client] = mint_local_token(SECRET, client)
        return self.tokens[client]

    async def widgets(self) -> list[str]:
        async with self.app.state.engine.connect() as connection:
            rows = await connection.execute(text("SELECT name FROM widgets ORDER BY name"))
            return [str(name) for (name,) in rows]

    def add(self, name: str, client: str | None = None) -> asyncio.Task[httpx.Response]:
        headers = {"Idempotency-Key": name}
        if client is not None:
            headers["Authorization"] = f"Bearer {self.token(client)}"
        return asyncio.create_task(
            self.client.post("/api/v1/widgets", params={"name": name}, headers=headers)
        )


@asynccontextmanager
async def running(database_url: str, **overrides: Any) -> AsyncIterator[Harness]:
    gate = Gate()
    app = create_api(definition(database_url, gate, **overrides))
    async with app.router.lifespan_context(app):
        await create_chassis_tables(app.state.engine)
        async with app.state.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE widgets (id serial PRIMARY KEY, name text)"))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://folio.test") as client:
            yield Harness(app, client, gate)


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with running(database_url) as started:
        yield started


@pytest.fixture
async def one_connection(database_url: str) -> AsyncIterator[Harness]:
    """Room for several requests in flight, but a single database connection they wait for briefly."""
    async with running(
        database_url,
        http_max_in_flight=5,
        database_pool_size=1,
        database_max_overflow=0,
        http_pool_timeout_seconds=0.2,
    ) as started:
        yield started


@pytest.fixture
async def three_slots(database_url: str) -> AsyncIterator[Harness]:
    # Long enough a wait that a request let wait is never shed while the test opens the gate.
    async with running(database_url, http_max_in_flight=3, http_max_wait_seconds=2) as started:
        yield started


def shed_total(metrics: str) -> float:
    line = next(line for line in metrics.splitlines() if line.startswith("folio_http_shed_total "))
    return float(line.split()[1])


async def test_a_request_past_the_bound_is_shed_with_retry_after_and_nothing_done(harness: Harness) -> None:
    before = shed_total((await harness.client.get("/metrics")).text)
    first = harness.add("first")
    await asyncio.wait_for(harness.gate.entered.wait(), 10)

    shed = await harness.client.post("/api/v1/widgets", params={"name": "second"})
    live = await harness.client.get("/health/live")
    metrics = (await harness.client.get("/metrics")).text
    during = await harness.widgets()
    harness.gate.opened.set()
    answered = await first

    assert shed.status_code == 503
    assert shed.headers["Retry-After"] == "3"
    assert shed.headers["Content-Type"] == "application/problem+json"
    problem = shed.json()
    assert problem["status"] == 503
    assert problem["type"] == "https://folio.example/problems/overloaded"
    assert "nothing was done" in problem["detail"]
    assert problem["instance"] == "/api/v1/widgets"
    assert live.status_code == 200, "probes are never shed"
    assert shed_total(metrics) == before + 1
    assert during == [], "the held request has not committed and the shed one never ran"
    assert answered.status_code == 201
    assert await harness.widgets() == ["first"]


async def test_a_client_that_retries_a_shed_request_with_its_key_loses_nothing(harness: Harness) -> None:
    first = harness.add("first")
    await asyncio.wait_for(harness.gate.entered.wait(), 10)
    shed = await harness.add("second")
    harness.gate.opened.set()
    await first
    retried = await harness.add("second")
    again = await harness.add("second")

    assert shed.status_code == 503
    assert retried.status_code == 201
    assert again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == retried.json()
    assert await harness.widgets() == ["first", "second"], "one effect each, none lost, none doubled"


async def test_the_retry_after_grows_while_the_shedding_lasts(harness: Harness) -> None:
    first = harness.add("first")
    await asyncio.wait_for(harness.gate.entered.wait(), 10)
    told = []
    for name in ("second", "third"):
        started = time.monotonic()
        shed = await harness.add(name)
        told.append(shed.headers["Retry-After"])
        # Into the next second of the shedding, well within the 3 s the last one was told to wait.
        await asyncio.sleep(max(0.0, started + 1.1 - time.monotonic()))
    harness.gate.opened.set()
    await first

    assert told == ["3", "4"], "a second more for the second second of shedding"
    assert await harness.widgets() == ["first"]


async def test_the_openapi_documents_503_with_retry_after(harness: Harness) -> None:
    document = (await harness.client.get("/api/v1/openapi.json")).json()

    response = document["paths"]["/api/v1/widgets"]["post"]["responses"]["503"]
    assert "Retry-After" in response["headers"]
    assert "capacity" in response["description"]
    too_many = document["paths"]["/api/v1/widgets"]["post"]["responses"]["429"]
    assert "Retry-After" in too_many["headers"]
    assert "share" in too_many["description"]


def counter(metrics: str, name: str) -> float:
    return float(next(line.split()[1] for line in metrics.splitlines() if line.startswith(f"{name} ")))


async def test_a_request_that_gets_no_connection_in_time_is_answered_503_quickly_and_loses_nothing(
    one_connection: Harness,
) -> None:
    harness = one_connection
    before = counter((await harness.client.get("/metrics")).text, "folio_http_pool_exhausted_total")
    first = harness.add("first")
    await harness.gate.holding(1)

    asked = time.monotonic()
    waited = await harness.add("second")
    answered_in = time.monotonic() - asked
    metrics = (await harness.client.get("/metrics")).text
    harness.gate.opened.set()
    await first
    retried = await harness.add("second")
    again = await harness.add("second")

    assert waited.status_code == 503
    assert waited.headers["Retry-After"] == "3"
    assert waited.json()["type"] == "https://folio.example/problems/overloaded"
    assert answered_in < 5, "refused after the API's pool timeout, not the pool's 30 s"
    assert counter(metrics, "folio_http_pool_exhausted_total") == before + 1
    assert retried.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == retried.json()
    assert await harness.widgets() == ["first", "second"], "one effect each, none lost, none doubled"


async def test_a_client_past_its_fair_share_of_a_full_api_gets_429_and_others_still_get_in(
    three_slots: Harness,
) -> None:
    harness = three_slots
    greedy = [harness.add("greedy-1", "greedy"), harness.add("greedy-2", "greedy")]
    modest = harness.add("modest-1", "modest")
    await harness.gate.holding(3)

    refused = await harness.add("greedy-3", "greedy")
    metrics = (await harness.client.get("/metrics")).text
    harness.gate.opened.set()
    answered = [await task for task in (*greedy, modest)]
    retried = await harness.add("greedy-3", "greedy")
    again = await harness.add("greedy-3", "greedy")

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "3"
    problem = refused.json()
    assert problem["type"] == "https://folio.example/problems/over-fair-share"
    assert "nothing was done" in problem["detail"]
    assert counter(metrics, "folio_http_over_fair_share_total") >= 1
    assert [response.status_code for response in answered] == [201, 201, 201]
    assert retried.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == retried.json()
    assert await harness.widgets() == ["greedy-1", "greedy-2", "greedy-3", "modest-1"]


async def test_a_client_below_its_share_waits_for_a_slot_rather_than_get_429(three_slots: Harness) -> None:
    harness = three_slots
    greedy = [harness.add(f"greedy-{n}", "greedy") for n in (1, 2, 3)]
    await harness.gate.holding(3)

    waiting = harness.add("modest-1", "modest")
    await asyncio.sleep(0.01)
    harness.gate.opened.set()
    answered = await waiting
    await asyncio.gather(*greedy)

    assert answered.status_code == 201, "a newcomer waits its turn (or gets 503), never 429"


async def test_a_client_alone_may_take_every_slot(three_slots: Harness) -> None:
    harness = three_slots
    held = [harness.add(f"alone-{n}", "alone") for n in (1, 2, 3)]
    await harness.gate.holding(3)

    fourth = await harness.add("alone-4", "alone")
    harness.gate.opened.set()
    await asyncio.gather(*held)

    assert fourth.status_code == 503, (
        "alone, it waits for a slot and is shed as before, not told it is greedy"
    )
