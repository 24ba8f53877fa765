"""The HTTP contract every app the factory builds keeps, without servers: bodies bounded and JSON, text
PostgreSQL can store, bounded pages, HEAD, 405 and 404 as problems, and an OpenAPI that says all of it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Query
from pydantic import StrictInt

from chassis.app import create_api
from chassis.auth import AdminCaller, CurrentCaller, mint_local_token
from chassis.definition import ServiceDefinition
from chassis.http.idempotency import idempotency_key_header
from chassis.http.pagination import MAX_PAGE, Page, Pagination
from chassis.http.problems import PROBLEM_JSON
from chassis.http.schemas import RequestBody
from chassis.settings import ServiceSettings
from chassis.uow import UnitOfWork

SCRIPTS = Path(__file__).parents[1] / "integration" / "alembic_scripts"
SECRET = "a-local-development-secret-of-32+bytes"
LIMIT = 4096


class NoteIn(RequestBody):
    text: str
    tags: tuple[str, ...] = ()
    count: StrictInt = 1


def notes_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/notes")

    @router.get("")
    async def list_notes(paging: Pagination, q: str | None = None) -> Page[str]:
        return Page.of([q or ""], total=1, params=paging)

    @router.get("/{note_id}")
    async def read(note_id: int) -> dict[str, int]:
        return {"id": note_id}

    @router.post("", status_code=201, dependencies=[Depends(idempotency_key_header)])
    async def add(body: NoteIn, caller: CurrentCaller) -> dict[str, Any]:
        return {"text": body.text, "by": caller.subject}

    @router.delete("/{note_id}", status_code=204, responses={409: {"description": "The note is pinned"}})
    async def remove(note_id: int, caller: AdminCaller) -> None:
        return None

    @router.get("/search/simple")
    async def search(term: str = Query(max_length=10)) -> list[str]:
        return [term]

    return router


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = ServiceSettings(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        auth_local_secret=SECRET,
        http_max_body_bytes=LIMIT,
    )
    definition = ServiceDefinition(
        name="notes",
        settings_factory=lambda: settings,
        uow_factory=lambda sessions: lambda: UnitOfWork(sessions, source="notes"),
        migrations_dir=SCRIPTS,
        routers=lambda: [notes_router()],
    )
    app = create_api(definition)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


def bearer(subject: str = "alice", roles: tuple[str, ...] = ("customer",)) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_local_token(SECRET, subject, roles=roles)}"}


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    return body


async def test_a_declared_body_over_the_limit_is_refused_before_authentication(
    client: httpx.AsyncClient,
) -> None:
    # No token: the size is refused first, so an anonymous caller cannot make us read a big body.
    body = problem(await client.post("/api/v1/notes", content=b"x" * (LIMIT + 1)), 413)
    assert str(LIMIT) in body["detail"]


async def test_a_streamed_body_is_cut_off_at_the_limit(client: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(1000):
            sent += 1024
            yield b'{"text":"' + b"x" * 1024 if sent == 1024 else b"x" * 1024

    response = await client.post(
        "/api/v1/notes", content=chunks(), headers={**bearer(), "Content-Type": "application/json"}
    )
    problem(response, 413)
    assert sent < 1000 * 1024, "the body was read to its end"


async def test_a_body_that_is_not_json_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/notes", content=b"text=hi", headers={**bearer(), "Content-Type": "text/plain"}
    )
    problem(response, 415)
    answer = await client.post(
        "/api/v1/notes", content=b'{"text":"hi"}', headers={**bearer(), "Content-Type": "application/json"}
    )
    assert answer.status_code == 201


@pytest.mark.parametrize("text", ["nul\u0000byte", "lone \ud800 surrogate"])
async def test_text_postgresql_cannot_store_is_422_naming_the_field(
    client: httpx.AsyncClient, text: str
) -> None:
    for body in ({"text": text}, {"text": "ok", "tags": ["fine", text]}):
        content = json.dumps(body).encode()  # ASCII escapes: "\ud800" travels as JSON allows
        response = await client.post(
            "/api/v1/notes", content=content, headers={**bearer(), "Content-Type": "application/json"}
        )
        errors = problem(response, 422)["errors"]
        assert errors[0]["field"] in ("text", "tags")


async def test_a_nul_in_the_query_or_path_is_422(client: httpx.AsyncClient) -> None:
    body = problem(await client.get("/api/v1/notes?q=%00"), 422)
    assert body["errors"][0] == {
        "location": "query",
        "field": "q",
        "message": "contains a NUL character",
        "type": "string_unstorable",
    }
    problem(await client.get("/api/v1/notes/1%00"), 422)


async def test_booleans_are_not_integers(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/notes", json={"text": "hi", "count": True}, headers=bearer())
    assert problem(response, 422)["errors"][0]["field"] == "count"


async def test_pages_are_bounded(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"/api/v1/notes?page={MAX_PAGE}")).status_code == 200
    for page in (MAX_PAGE + 1, 461168601842738792, 2**70):
        problem(await client.get(f"/api/v1/notes?page={page}&size=100"), 422)


async def test_head_answers_wherever_get_does_without_a_body(client: httpx.AsyncClient) -> None:
    get, head = await client.get("/api/v1/notes/7"), await client.head("/api/v1/notes/7")
    assert (get.status_code, head.status_code) == (200, 200)
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]


async def test_405_lists_every_method_served_at_the_path(client: httpx.AsyncClient) -> None:
    response = await client.put("/api/v1/notes/7")
    body = problem(response, 405)
    assert response.headers["allow"] == "DELETE, GET, HEAD"
    assert "DELETE, GET, HEAD" in body["detail"]


async def test_a_trailing_slash_is_a_404_problem_not_a_redirect_to_the_host_header(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/notes/", headers={"Host": "evil.example"})
    problem(response, 404)
    assert "location" not in response.headers


async def test_the_openapi_documents_every_problem_with_its_schema(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    paths = document["paths"]

    def statuses(path: str, method: str) -> set[str]:
        return {code for code in paths[path][method]["responses"] if code >= "400"}

    assert statuses("/api/v1/notes", "get") == {"422", "429", "503"}
    assert statuses("/api/v1/notes/{note_id}", "get") == {"404", "422", "429", "503"}
    assert statuses("/api/v1/notes", "post") == {
        "400",
        "401",
        "403",
        "409",
        "413",
        "415",
        "422",
        "429",
        "503",
    }
    assert statuses("/api/v1/notes/{note_id}", "delete") == {"401", "403", "404", "409", "422", "429", "503"}
    assert (
        paths["/api/v1/notes/{note_id}"]["delete"]["responses"]["409"]["description"] == "The note is pinned"
    )
    unprocessable = paths["/api/v1/notes"]["post"]["responses"]["422"]["content"]
    assert unprocessable == {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}}
    not_found = paths["/api/v1/notes/{note_id}"]["get"]["responses"]["404"]["content"]
    assert not_found == {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["Problem"]["required"]) == {"type", "title", "status", "detail"}
    assert "errors" in schemas["ValidationProblem"]["required"]


async def test_the_openapi_names_the_bearer_scheme_and_the_roles_required(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    paths = document["paths"]
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "OAuth2 access token (JWT) from the OIDC issuer, for this service's audience",
    }
    assert "security" not in paths["/api/v1/notes"]["get"]
    assert paths["/api/v1/notes"]["post"]["security"] == [{"bearer": []}]
    assert paths["/api/v1/notes/{note_id}"]["delete"]["security"] == [{"bearer": ["admin"]}]
    head = paths["/api/v1/notes/{note_id}"]["head"]
    assert head["operationId"].endswith("_head")
    assert all("content" not in response for response in head["responses"].values())
