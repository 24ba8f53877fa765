"""The API on the real PostgreSQL and RabbitMQ: readiness follows migrations, routes get a unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import text

from chassis.app import UnitOfWorkDep, create_api
from chassis.definition import ServiceDefinition
from chassis.migrations import upgrade_to_head
from chassis.settings import ServiceSettings
from chassis.uow import UnitOfWork

pytestmark = pytest.mark.integration

SCRIPTS = Path(__file__).parent / "alembic_scripts"


def widgets_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/widgets")

    @router.post("", status_code=201)
    async def add_widget(name: str, uow: UnitOfWorkDep) -> dict[str, int]:
        async with uow:
            result = await uow.session.execute(
                text("INSERT INTO widgets (name) VALUES (:name) RETURNING id"), {"name": name}
            )
            widget_id = int(result.scalar_one())
            await uow.commit()
        return {"id": widget_id}

    @router.get("/count")
    async def count_widgets(uow: UnitOfWorkDep) -> dict[str, int]:
        async with uow:
            return {
                "count": int((await uow.session.execute(text("SELECT count(*) FROM widgets"))).scalar_one())
            }

    return router


def definition(database_url: str, amqp_url: str) -> ServiceDefinition:
    return ServiceDefinition(
        name="widgets",
        settings_factory=lambda: ServiceSettings(database_url=database_url, amqp_url=amqp_url),
        uow_factory=lambda sessions: lambda: UnitOfWork(sessions, source="widgets"),
        migrations_dir=SCRIPTS,
        routers=[widgets_router()],
    )


@pytest.fixture
async def app(database_url: str, amqp_url: str) -> AsyncIterator[FastAPI]:
    api = create_api(definition(database_url, amqp_url))
    async with api.router.lifespan_context(api):
        yield api


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


def checks_of(response: httpx.Response) -> dict[str, str]:
    return {check["name"]: check["status"] for check in response.json()["checks"]}


async def test_ready_waits_for_migrations(http: httpx.AsyncClient, database_url: str) -> None:
    live = await http.get("/health/live")
    before = await http.get("/health/ready")
    await upgrade_to_head(SCRIPTS, database_url)
    after = await http.get("/health/ready")

    assert live.status_code == 200
    assert before.status_code == 503
    assert checks_of(before) == {"database": "pass", "migrations": "fail"}
    assert "behind" in before.json()["checks"][1]["error"]
    assert after.status_code == 200, after.json()
    assert checks_of(after) == {"database": "pass", "migrations": "pass"}


async def test_routes_get_a_unit_of_work_and_are_measured(http: httpx.AsyncClient, database_url: str) -> None:
    await upgrade_to_head(SCRIPTS, database_url)

    created = await http.post("/api/v1/widgets", params={"name": "sprocket"})
    counted = await http.get("/api/v1/widgets/count")
    metrics = await http.get("/metrics")

    assert created.status_code == 201
    assert counted.json() == {"count": 1}
    assert 'route="/api/v1/widgets",status="201"' in metrics.text
    assert (
        'folio_http_request_duration_seconds_count{method="GET",route="/api/v1/widgets/count"}'
        in metrics.text
    )


async def test_the_state_holds_what_routers_and_dependencies_need(app: FastAPI) -> None:
    assert app.state.session_factory is app.state.resources.session_factory
    assert callable(app.state.uow_factory)
    assert isinstance(app.state.uow_factory(), UnitOfWork)
    assert app.state.token_verifier is not None
    assert isinstance(app.state.settings, ServiceSettings)


async def test_ready_fails_on_an_unreachable_database_and_ignores_the_broker(database_url: str) -> None:
    settings = ServiceSettings(
        database_url="postgresql://nobody@127.0.0.1:1/none", amqp_url="amqp://guest:guest@127.0.0.1:1/"
    )
    api = create_api(definition(database_url, "unused"), settings)
    async with (
        api.router.lifespan_context(api),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as client,
    ):
        response = await client.get("/health/ready")

    assert response.status_code == 503
    # The API takes commands into its outbox while the broker is away: the broker is no part of it.
    assert checks_of(response) == {"database": "fail", "migrations": "fail"}
