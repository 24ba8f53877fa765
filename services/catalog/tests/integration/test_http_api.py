import asyncio
from typing import Any
from uuid import uuid4

import httpx
import pytest

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


def book_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "isbn": "978-0-306-40615-7",
        "title": "A Wizard of Earthsea",
        "description": "A young wizard and his shadow.",
        "price": {"amount": "8.50", "currency": "EUR"},
        "stock": 3,
    }
    body.update(overrides)
    return body


def fields_of(response: httpx.Response) -> list[str | None]:
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    return [error["field"] for error in response.json().get("errors", [])]


async def create_book(client: httpx.AsyncClient, admin: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/books", json=book_body(**overrides), headers=admin)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_an_admin_adds_a_book_that_anyone_can_then_read_and_find(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    author = (await client.post("/api/v1/authors", json={"name": "Ursula K. Le Guin"}, headers=admin)).json()
    category = (await client.post("/api/v1/categories", json={"name": "Fantasy"}, headers=admin)).json()
    publisher = (await client.post("/api/v1/publishers", json={"name": "Parnassus"}, headers=admin)).json()
    response = await client.post(
        "/api/v1/books",
        json=book_body(author_ids=[author["id"]], category_id=category["id"], publisher_id=publisher["id"]),
        headers=admin,
    )

    assert response.status_code == 201
    book = response.json()
    assert response.headers["location"] == f"/api/v1/books/{book['id']}"
    assert book["isbn"] == "9780306406157"
    assert book["price"] == {"amount": "8.50", "currency": "EUR"}
    assert (book["author_names"], book["category"], book["publisher"]) == (
        ["Ursula K. Le Guin"],
        "Fantasy",
        "Parnassus",
    )
    assert (book["in_stock"], book["average_rating"], book["rating_count"]) == (True, None, 0)
    assert (await client.get(f"/api/v1/books/{book['id']}")).json() == book
    page = (await client.get("/api/v1/books", params={"q": "wizard", "category_id": category["id"]})).json()
    assert (page["total"], page["items"][0]["id"], page["page"], page["pages"]) == (1, book["id"], 1, 1)


async def test_lists_of_authors_categories_and_publishers_are_public_and_paged(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for name in ("B", "A", "C"):
        await client.post("/api/v1/authors", json={"name": name}, headers=admin)
    page = (await client.get("/api/v1/authors", params={"size": 2})).json()
    assert ([a["name"] for a in page["items"]], page["total"], page["pages"]) == (["A", "B"], 3, 2)
    one = page["items"][0]
    assert (await client.get(f"/api/v1/authors/{one['id']}")).json() == one
    assert (await client.get("/api/v1/categories")).json()["total"] == 0
    assert (await client.get(f"/api/v1/publishers/{uuid4()}")).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/books", book_body()),
        ("PATCH", f"/api/v1/books/{uuid4()}", {"title": "X"}),
        ("DELETE", f"/api/v1/books/{uuid4()}", None),
        ("POST", f"/api/v1/books/{uuid4()}/restock", {"quantity": 1}),
        ("POST", "/api/v1/authors", {"name": "X"}),
        ("POST", "/api/v1/categories", {"name": "X"}),
        ("POST", "/api/v1/publishers", {"name": "X"}),
    ],
)
async def test_writes_need_a_token_and_the_admin_role(
    client: httpx.AsyncClient, customer: dict[str, str], method: str, path: str, body: Any
) -> None:
    anonymous = await client.request(method, path, json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith(PROBLEM)
    assert (await client.request(method, path, json=body, headers=customer)).status_code == 403
    assert (await client.get("/api/v1/books")).json()["total"] == 0


async def test_changing_a_book_updates_only_the_fields_sent(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    category = (await client.post("/api/v1/categories", json={"name": "Fantasy"}, headers=admin)).json()
    book = await create_book(client, admin, category_id=category["id"])

    response = await client.patch(
        f"/api/v1/books/{book['id']}",
        json={"price": {"amount": "9.99", "currency": "EUR"}, "category_id": None},
        headers=admin,
    )
    assert response.status_code == 200
    changed = response.json()
    assert changed["price"]["amount"] == "9.99"
    assert changed["category"] is None
    assert changed["title"] == book["title"]


async def test_restocking_adds_copies_and_deleting_removes_the_book(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    book = await create_book(client, admin, stock=0)
    restocked = await client.post(f"/api/v1/books/{book['id']}/restock", json={"quantity": 5}, headers=admin)
    assert restocked.json() == {"id": book["id"], "stock": 5}

    assert (await client.delete(f"/api/v1/books/{book['id']}", headers=admin)).status_code == 204
    assert (await client.get(f"/api/v1/books/{book['id']}")).status_code == 404
    assert (await client.delete(f"/api/v1/books/{book['id']}", headers=admin)).status_code == 404


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/books", book_body()),
        ("/api/v1/authors", {"name": "Octavia E. Butler"}),
        ("/api/v1/categories", {"name": "Poetry"}),
        ("/api/v1/publishers", {"name": "Tor"}),
    ],
)
async def test_a_post_repeated_with_its_idempotency_key_answers_as_the_first_did(
    client: httpx.AsyncClient, admin: dict[str, str], outbox_messages: Any, path: str, body: dict[str, Any]
) -> None:
    headers = {**admin, "Idempotency-Key": "create-once"}
    first = await client.post(path, json=body, headers=headers)
    again = await client.post(path, json=body, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert (await client.get(path)).json()["total"] == 1
    assert await outbox_messages.count() == (1 if path.endswith("books") else 0)


async def test_a_restock_repeated_with_its_idempotency_key_adds_the_copies_once(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    book = await create_book(client, admin, stock=1)
    headers = {**admin, "Idempotency-Key": "restock-1"}
    path = f"/api/v1/books/{book['id']}/restock"
    first = await client.post(path, json={"quantity": 2}, headers=headers)
    again = await client.post(path, json={"quantity": 2}, headers=headers)
    assert first.json() == again.json() == {"id": book["id"], "stock": 3}
    assert (await client.get(f"/api/v1/books/{book['id']}")).json()["stock"] == 3


async def test_an_idempotency_key_reused_for_another_body_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    headers = {**admin, "Idempotency-Key": "k"}
    await client.post("/api/v1/authors", json={"name": "A"}, headers=headers)
    reused = await client.post("/api/v1/authors", json={"name": "B"}, headers=headers)
    assert reused.status_code == 422
    assert (await client.get("/api/v1/authors")).json()["total"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (book_body(isbn="9780306406158"), "isbn"),
        (book_body(isbn="12345"), "isbn"),
        (book_body(price={"amount": "-1.00", "currency": "EUR"}), "price.amount"),
        (book_body(price={"amount": 8.5, "currency": "EUR"}), "price.amount"),
        (book_body(price={"amount": "8.505", "currency": "EUR"}), "price.amount"),
        (book_body(price={"amount": "8.50", "currency": "USD"}), "price.currency"),
        (book_body(stock=-1), "stock"),
        (book_body(stock="many"), "stock"),
        (book_body(stock="3"), "stock"),
        (book_body(title=""), "title"),
        (book_body(author_ids=["not-a-uuid"]), "author_ids.0"),
        (book_body(author_ids=[str(uuid4())]), "author_ids"),
        (book_body(category_id=str(uuid4())), "category_id"),
        (book_body(colour="red"), "colour"),
        ({"title": "Only a title"}, "isbn"),
    ],
)
async def test_bad_book_input_is_a_422_naming_the_field_and_changes_nothing(
    client: httpx.AsyncClient, admin: dict[str, str], outbox_messages: Any, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/books", json=body, headers=admin)
    assert response.status_code == 422
    assert field in fields_of(response)
    assert (await client.get("/api/v1/books")).json()["total"] == 0
    assert await outbox_messages.count() == 0


async def test_malformed_json_is_a_422_problem(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.post(
        "/api/v1/books", content=b'{"isbn": "97803', headers={**admin, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["errors"][0]["type"] == "json_invalid"


async def test_a_duplicate_isbn_or_category_name_is_a_409_conflict(
    client: httpx.AsyncClient, admin: dict[str, str], outbox_messages: Any
) -> None:
    await create_book(client, admin)
    duplicate = await client.post("/api/v1/books", json=book_body(title="Copy"), headers=admin)
    assert duplicate.status_code == 409
    assert duplicate.json()["field"] == "isbn"
    assert await outbox_messages.count() == 1

    await client.post("/api/v1/categories", json={"name": "Poetry"}, headers=admin)
    again = await client.post("/api/v1/categories", json={"name": "poetry"}, headers=admin)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith(PROBLEM)


async def test_unknown_books_are_404_problems(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    unknown = uuid4()
    for response in (
        await client.get(f"/api/v1/books/{unknown}"),
        await client.patch(f"/api/v1/books/{unknown}", json={"title": "X"}, headers=admin),
        await client.post(f"/api/v1/books/{unknown}/restock", json={"quantity": 1}, headers=admin),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"].startswith(PROBLEM)
    assert (await client.get("/api/v1/books/not-a-uuid")).status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": None}, None),
        ({"price": {"amount": "-2", "currency": "EUR"}}, "price.amount"),
        ({"isbn": "978030640615X"}, "isbn"),
        ({"author_ids": [str(uuid4())]}, "author_ids"),
    ],
)
async def test_bad_changes_are_422_and_leave_the_book_as_it_was(
    client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any], field: str | None
) -> None:
    book = await create_book(client, admin)
    response = await client.patch(f"/api/v1/books/{book['id']}", json=body, headers=admin)
    assert response.status_code == 422
    if field is not None:
        assert field in fields_of(response)
    assert (await client.get(f"/api/v1/books/{book['id']}")).json() == book


@pytest.mark.parametrize("quantity", [0, -3, "2", 2.5])
async def test_a_restock_of_no_or_odd_copies_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str], quantity: Any
) -> None:
    book = await create_book(client, admin, stock=1)
    response = await client.post(
        f"/api/v1/books/{book['id']}/restock", json={"quantity": quantity}, headers=admin
    )
    assert response.status_code == 422
    assert fields_of(response) == ["quantity"]


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "colour"},
        {"min_price": "-1"},
        {"min_price": "20", "max_price": "10"},
        {"size": "1000"},
        {"page": "0"},
        {"in_stock": "perhaps"},
        {"author_id": "nobody"},
    ],
)
async def test_odd_list_parameters_are_422_problems(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get("/api/v1/books", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_a_price_range_upside_down_names_the_query_parameter(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/books", params={"min_price": "20", "max_price": "10"})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["location"], error["field"]) == ("query", "max_price")


async def test_the_openapi_document_lists_every_resource(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    for path in ("/api/v1/books", "/api/v1/books/{book_id}", "/api/v1/authors", "/api/v1/categories"):
        assert path in paths
    assert "/api/v1/publishers/{id}" in paths


async def test_two_admins_adding_the_same_isbn_at_once_get_one_book_and_one_conflict(
    client: httpx.AsyncClient, admin: dict[str, str], outbox_messages: Any
) -> None:
    responses = await asyncio.gather(
        *(client.post("/api/v1/books", json=book_body(title=f"Copy {n}"), headers=admin) for n in range(4))
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    assert (await client.get("/api/v1/books")).json()["total"] == 1
    assert await outbox_messages.count() == 1
