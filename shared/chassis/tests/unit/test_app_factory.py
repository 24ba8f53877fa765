"""The app factory without servers: routes, request ids, metrics, OpenAPI and problem details."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import APIRouter
from prometheus_client import REGISTRY

from chassis.app import REQUEST_ID_HEADER, create_api
from chassis.definition import ServiceDefinition
from chassis.observability.logging import current_request_id
from chassis.settings import ServiceSettings
from chassis.uow import UnitOfWork

SCRIPTS = Path(__file__).parents[1] / "integration" / "alembic_scripts"


def things_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/things", tags=["things"])

    @router.get("/{thing_id}")
    async def get_thing(thing_id: int) -> dict[str, object]:
        return {"id": thing_id, "request_id": current_request_id()}

    return router


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="things",
        settings_factory=lambda: ServiceSettings(database_url="postgresql://nobody@127.0.0.1:1/none"),
        uow_factory=lambda sessions: lambda: UnitOfWork(sessions, source="things"),
        migrations_dir=SCRIPTS,
        routers=lambda: [things_router()],
        version="1.2.3",
    )


def client() -> httpx.AsyncClient:
    # ASGITransport does not run the lifespan: nothing here needs a database.
    app = create_api(definition())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def requests_counted(route: str, status: str) -> float:
    labels = {"method": "GET", "route": route, "status": status}
    return REGISTRY.get_sample_value("folio_http_requests_total", labels) or 0.0


async def test_live_answers_with_the_service_and_version() -> None:
    async with client() as http:
        response = await http.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "pass", "service": "things", "version": "1.2.3"}


async def test_ready_is_503_until_the_lifespan_set_up_the_checks() -> None:
    async with client() as http:
        response = await http.get("/health/ready")

    assert response.status_code == 503


async def test_a_request_id_is_made_up_or_taken_from_the_caller() -> None:
    async with client() as http:
        made_up = await http.get("/api/v1/things/1")
        given = await http.get("/api/v1/things/1", headers={REQUEST_ID_HEADER: "abc-123"})
        refused = await http.get("/api/v1/things/1", headers={REQUEST_ID_HEADER: "<script>"})

    assert len(made_up.headers[REQUEST_ID_HEADER]) == 32
    assert made_up.json()["request_id"] == made_up.headers[REQUEST_ID_HEADER]
    assert given.headers[REQUEST_ID_HEADER] == "abc-123"
    assert given.json()["request_id"] == "abc-123"
    assert refused.headers[REQUEST_ID_HEADER] != "<script>"


async def test_requests_are_counted_by_route_template_and_status() -> None:
    before_ok = requests_counted("/api/v1/things/{thing_id}", "200")
    before_bad = requests_counted("/api/v1/things/{thing_id}", "422")
    before_unmatched = requests_counted("<unmatched>", "404")
    async with client() as http:
        await http.get("/api/v1/things/1")
        await http.get("/api/v1/things/2")
        await http.get("/api/v1/things/not-a-number")
        await http.get("/no/such/path")
        metrics = await http.get("/metrics")

    assert requests_counted("/api/v1/things/{thing_id}", "200") == before_ok + 2
    assert requests_counted("/api/v1/things/{thing_id}", "422") == before_bad + 1
    assert requests_counted("<unmatched>", "404") == before_unmatched + 1
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert (
        'folio_http_requests_total{method="GET",route="/api/v1/things/{thing_id}",status="200"}'
        in metrics.text
    )
    assert "folio_http_request_duration_seconds_bucket" in metrics.text


async def test_errors_are_problem_details() -> None:
    async with client() as http:
        missing = await http.get("/no/such/path")
        invalid = await http.get("/api/v1/things/not-a-number")

    assert missing.headers["content-type"].startswith("application/problem+json")
    assert invalid.status_code == 422
    assert invalid.headers["content-type"].startswith("application/problem+json")


async def test_openapi_is_served_under_the_api_prefix() -> None:
    async with client() as http:
        document = (await http.get("/api/v1/openapi.json")).json()
        docs = await http.get("/api/v1/docs")

    assert (document["info"]["title"], document["info"]["version"]) == ("Folio things", "1.2.3")
    assert "/api/v1/things/{thing_id}" in document["paths"]
    assert "/metrics" not in document["paths"]
    assert docs.status_code == 200


def test_settings_and_token_verifier_are_on_the_state_before_startup() -> None:
    app = create_api(definition())

    assert isinstance(app.state.settings, ServiceSettings)
    assert app.state.token_verifier is not None
