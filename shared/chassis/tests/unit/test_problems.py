"""Every error an API answers is RFC 9457 problem details, checked through a real FastAPI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from chassis.auth import AdminCaller, Caller, CurrentCaller, OptionalCaller, TokenVerifier, mint_local_token
from chassis.http.problems import PROBLEM_JSON, ProblemError, conflict, install_problem_handlers, not_found

SECRET = "a-local-development-secret-of-32+bytes"


class Line(BaseModel):
    book_id: str
    quantity: int = Field(gt=0)


class OrderIn(BaseModel):
    lines: list[Line] = Field(min_length=1)


def build_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = TokenVerifier(local_secret=SECRET)

    @app.get("/me")
    async def me(caller: CurrentCaller) -> dict[str, object]:
        return {"subject": caller.subject, "roles": sorted(caller.roles)}

    @app.get("/maybe")
    async def maybe(caller: OptionalCaller) -> dict[str, object]:
        return {"subject": caller.subject if caller else None}

    @app.post("/admin/books")
    async def admin_only(caller: AdminCaller) -> dict[str, str]:
        return {"by": caller.subject}

    @app.post("/orders", status_code=201)
    async def place(order: OrderIn) -> dict[str, int]:
        return {"lines": len(order.lines)}

    @app.get("/books/{book_id}")
    async def book(book_id: str) -> None:
        raise not_found("book", book_id)

    @app.post("/orders/{order_id}/cancel")
    async def cancel(order_id: str) -> None:
        raise conflict("the order is already completed", state="completed")

    @app.get("/teapot")
    async def teapot() -> None:
        raise ProblemError(
            418, "Teapot", "short and stout", type_="https://folio.example/problems/teapot", spout=1
        )

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("password=hunter2 in an internal detail")

    @app.get("/database-away")
    async def database_away() -> None:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://folio.test") as client:
        yield client


def bearer(subject: str = "alice", roles: tuple[str, ...] = ("customer",), ttl: float = 60) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_local_token(SECRET, subject, roles=roles, ttl=ttl)}"}


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["type"]
    return body


async def test_valid_token_reaches_the_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/me", headers=bearer(roles=("customer", "admin")))
    assert response.json() == {"subject": "alice", "roles": ["admin", "customer"]}


async def test_missing_token_is_401_with_a_bearer_challenge(client: httpx.AsyncClient) -> None:
    body = problem(await client.get("/me"), 401)
    assert body["instance"] == "/me"
    response = await client.get("/me", headers={"Authorization": "Basic YWxpY2U6cHc="})
    problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_invalid_or_expired_token_is_401_invalid_token(client: httpx.AsyncClient) -> None:
    for headers in ({"Authorization": "Bearer nonsense"}, bearer(ttl=-120)):
        response = await client.get("/me", headers=headers)
        body = problem(response, 401)
        assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
        assert "not valid" in str(body["detail"])
    assert "expired" in response.headers["www-authenticate"]


async def test_optional_caller(client: httpx.AsyncClient) -> None:
    assert (await client.get("/maybe")).json() == {"subject": None}
    assert (await client.get("/maybe", headers=bearer("bob"))).json() == {"subject": "bob"}
    problem(await client.get("/maybe", headers={"Authorization": "Bearer nonsense"}), 401)


async def test_missing_role_is_403(client: httpx.AsyncClient) -> None:
    body = problem(await client.post("/admin/books", headers=bearer(roles=("customer",))), 403)
    assert body["required_roles"] == ["admin"]
    problem(await client.post("/admin/books", headers=bearer(roles=())), 403)
    problem(await client.post("/admin/books"), 401)
    assert (await client.post("/admin/books", headers=bearer("root", ("admin",)))).json() == {"by": "root"}


async def test_unknown_route_is_404_and_wrong_method_405(client: httpx.AsyncClient) -> None:
    body = problem(await client.get("/nowhere"), 404)
    assert body["title"] == "Not Found"
    assert body["detail"] == "Nothing is served at /nowhere."
    response = await client.delete("/me")
    body = problem(response, 405)
    assert response.headers["allow"] == "GET, HEAD"
    assert body["detail"] == "DELETE is not served at /me; allowed: GET, HEAD."


async def test_not_found_and_conflict_helpers(client: httpx.AsyncClient) -> None:
    body = problem(await client.get("/books/b-1"), 404)
    assert body["detail"] == "book b-1 does not exist"
    body = problem(await client.post("/orders/o-1/cancel"), 409)
    assert body["detail"] == "the order is already completed"
    assert body["state"] == "completed"


async def test_problem_error_with_type_and_extensions(client: httpx.AsyncClient) -> None:
    assert problem(await client.get("/teapot"), 418) == {
        "type": "https://folio.example/problems/teapot",
        "title": "Teapot",
        "status": 418,
        "detail": "short and stout",
        "instance": "/teapot",
        "spout": 1,
    }


async def test_invalid_body_is_422_naming_each_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/orders", json={"lines": [{"book_id": "b", "quantity": 0}, {"quantity": "x"}]}
    )
    errors = problem(response, 422)["errors"]
    assert isinstance(errors, list)
    fields = {(error["location"], error["field"], error["type"]) for error in errors}
    assert fields == {
        ("body", "lines.0.quantity", "greater_than"),
        ("body", "lines.1.book_id", "missing"),
        ("body", "lines.1.quantity", "int_parsing"),
    }
    assert all(error["message"] for error in errors)
    assert "input" not in errors[0]


async def test_empty_list_and_missing_body_are_422(client: httpx.AsyncClient) -> None:
    errors = problem(await client.post("/orders", json={"lines": []}), 422)["errors"]
    assert [(e["field"], e["type"]) for e in errors] == [("lines", "too_short")]
    errors = problem(await client.post("/orders"), 422)["errors"]
    assert [(e["location"], e["field"]) for e in errors] == [("body", None)]


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/orders", content=b'{"lines": [', headers={"content-type": "application/json"}
    )
    errors = problem(response, 422)["errors"]
    assert isinstance(errors, list)
    assert errors[0]["type"] == "json_invalid"
    assert errors[0]["location"] == "body"
    assert errors[0]["message"].startswith("Malformed JSON")


async def test_unexpected_error_is_500_without_internals(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/boom")
    body = problem(response, 500)
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert body["detail"] == "An unexpected error occurred."
    assert any("hunter2" in (record.exc_text or "") for record in caplog.records)


async def test_an_unreachable_database_is_503_with_retry_after_not_a_500(client: httpx.AsyncClient) -> None:
    response = await client.get("/database-away")
    body = problem(response, 503)
    assert int(response.headers["Retry-After"]) > 0
    assert "5432" not in response.text
    assert body["title"] == "Service Unavailable"


def test_extensions_may_not_shadow_standard_members() -> None:
    with pytest.raises(ValueError, match="type"):
        ProblemError(400, "Bad", type="x")


def test_caller_roles() -> None:
    assert Caller("root", roles=frozenset({"admin"})).is_admin
    assert not Caller("alice").is_admin
