"""Hand-made hostile input against the running stack: each case once answered 500, a redirect to the Host
header, or an admin to a stranger. Now each is a 4xx problem with a reason."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from chassis.auth.tokens import mint_local_token
from devstack.stack import Stack

pytestmark = pytest.mark.e2e

LIST_ENDPOINTS = [
    ("catalog", "/api/v1/books"),
    ("catalog", "/api/v1/authors"),
    ("catalog", "/api/v1/categories"),
    ("catalog", "/api/v1/publishers"),
    ("ordering", "/api/v1/orders"),
    ("notification", "/api/v1/notifications"),
]


def problem(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, f"{response.status_code}: {response.text[:300]}"
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    return body


def url(stack: Stack, service: str, path: str) -> str:
    return f"{stack.config.api_url(service)}{path}"


def test_a_nul_anywhere_in_the_url_is_422(stack: Stack, world: Any) -> None:
    admin = world.identities["admin"].headers
    for service, path in [
        ("catalog", "/api/v1/books?q=%00"),
        ("catalog", "/api/v1/authors?name=a%00b"),
        ("ordering", "/api/v1/orders?customer_id=%00"),
        ("notification", "/api/v1/notifications?customer_id=x%00"),
        ("catalog", "/api/v1/books/%00"),
    ]:
        problem(httpx.get(url(stack, service, path), headers=admin), 422)


def test_text_postgresql_cannot_store_in_a_body_is_422(stack: Stack, world: Any) -> None:
    admin = world.identities["admin"].headers
    alice = world.identities["alice"].headers
    cases = [
        ("catalog", "/api/v1/authors", admin, {"name": "Nul\u0000Name"}),
        ("catalog", "/api/v1/categories", admin, {"name": "lone \ud800"}),
        ("rating", f"/api/v1/books/{world.book_id}/feedback", alice, {"stars": 3, "comment": "a\u0000b"}),
    ]
    for service, path, headers, body in cases:
        content = json.dumps(body).encode()  # ASCII escapes, as a JSON client sends them
        response = httpx.post(
            url(stack, service, path),
            content=content,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert problem(response, 422)["errors"]


@pytest.mark.parametrize(("service", "path"), LIST_ENDPOINTS)
def test_a_page_past_the_last_bound_is_422(stack: Stack, world: Any, service: str, path: str) -> None:
    admin = world.identities["admin"].headers
    problem(httpx.get(url(stack, service, path), params={"page": 461168601842738792}, headers=admin), 422)


def test_token_claims_that_cannot_be_stored_or_mailed_are_401_with_a_reason(stack: Stack, world: Any) -> None:
    secret = stack.config.secret()
    body = {"lines": [{"book_id": world.book_id, "quantity": 1}]}
    for subject, email in [
        ("nul\u0000sub", "x@folio.example"),
        ("alice", "x@folio.example\r\nBcc: everyone@folio.example"),
        ("alice", "a" * 320 + "@folio.example"),
    ]:
        token = mint_local_token(secret, subject, email, ["customer"])
        response = httpx.post(
            url(stack, "ordering", "/api/v1/orders"), json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert "not valid" in problem(response, 401)["detail"]


def test_a_big_anonymous_body_is_413_before_anything_else(stack: Stack) -> None:
    response = httpx.post(
        url(stack, "catalog", "/api/v1/books"),
        content=b"[" + b"0," * (600 * 1024) + b"0]",
        headers={"Content-Type": "application/json"},
    )
    problem(response, 413)


def test_a_body_that_is_not_json_is_415(stack: Stack, world: Any) -> None:
    response = httpx.post(
        url(stack, "ordering", "/api/v1/orders"),
        content=b"lines=1",
        headers={**world.identities["alice"].headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    problem(response, 415)


def test_true_is_not_a_quantity(stack: Stack, world: Any) -> None:
    body = {"lines": [{"book_id": world.book_id, "quantity": True}]}
    response = httpx.post(
        url(stack, "ordering", "/api/v1/orders"), json=body, headers=world.identities["alice"].headers
    )
    assert problem(response, 422)["errors"][0]["field"] == "lines.0.quantity"


def test_a_trailing_slash_never_redirects_to_the_host_header(stack: Stack) -> None:
    response = httpx.get(url(stack, "catalog", "/api/v1/books/"), headers={"Host": "evil.example"})
    problem(response, 404)
    assert "location" not in response.headers


def test_head_is_served_and_405_lists_every_method(stack: Stack, world: Any) -> None:
    path = f"/api/v1/authors/{world.author_id}"
    get, head = httpx.get(url(stack, "catalog", path)), httpx.head(url(stack, "catalog", path))
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == get.headers["content-length"]
    response = httpx.put(url(stack, "catalog", "/api/v1/books"))
    problem(response, 405)
    assert response.headers["allow"] == "GET, HEAD, POST"
    problem(httpx.get(url(stack, "catalog", "/api/v1/nowhere")), 404)
