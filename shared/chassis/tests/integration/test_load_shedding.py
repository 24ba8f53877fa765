"""Load shedding on a real app and the real PostgreSQL: an API at its bound refuses before doing anything,
says when to come back, and a client that comes back with its Idempotency-Key loses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from sqlalchemy import text
from starlette.responses import Response

from chassis.app import UnitOfWorkDep, create_api
from chassis.auth import OptionalCaller
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
            await gate.opened.wait()
            response = await slot.respond(201, {"id": widget_id})
            await uow.commit()
            return response

    return router


def definition(database_url: str, gate: Gate) -> ServiceDefinition:
    settings = ServiceSettings(
        database_url=database_url,
        amqp_url="amqp://guest:guest@127.0.0.1:1/",
        http_max_in_flight=1,
        http_max_wait_seconds=0.05,
        http_shed_retry_after_seconds=3,
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

    async def widgets(self) -> list[str]:
        async with self.app.state.engine.connect() as connection:
            rows = await connection.execute(text("SELECT name FROM widgets ORDER BY name"))
            return [str(name) for (name,) in rows]

    def add(self, name: str) -> asyncio.Task[httpx.Response]:
        return asyncio.create_task(
            self.client.post("/api/v1/widgets", params={"name": name}, headers={"Idempotency-Key": name})
        )


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    gate = Gate()
    app = create_api(definition(database_url, gate))
    async with app.router.lifespan_context(app):
        await create_chassis_tables(app.state.engine)
        async with app.state.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE widgets (id serial PRIMARY KEY, name text)"))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://folio.test") as client:
            yield Harness(app, client, gate)


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


async def test_the_openapi_documents_503_with_retry_after(harness: Harness) -> None:
    document = (await harness.client.get("/api/v1/openapi.json")).json()

    response = document["paths"]["/api/v1/widgets"]["post"]["responses"]["503"]
    assert "Retry-After" in response["headers"]
    assert "capacity" in response["description"]
