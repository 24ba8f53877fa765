"""The HTTP API: who may do what, bad input refused with problem details and nothing changed."""

from __future__ import annotations

from uuid import uuid4

import pytest

from contracts.envelope import new_id

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


async def nothing_written(ordering) -> bool:
    tables = ("orders", "order_sagas", "order_history", "outbox")
    counts = await ordering.rows("SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables))
    return tuple(counts[0]) == (0,) * len(tables)


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([], "lines"),
        ([{"book_id": "B1", "quantity": 0}], "lines.0.quantity"),
        ([{"book_id": "B1", "quantity": -2}], "lines.0.quantity"),
        ([{"book_id": "B1", "quantity": 1}, {"book_id": "B1", "quantity": 2}], "lines.1.book_id"),
        ([{"book_id": "not-a-uuid", "quantity": 1}], "lines.0.book_id"),
    ],
    ids=["empty lines", "zero quantity", "negative quantity", "duplicate book", "bad book id"],
)
async def test_an_order_with_bad_lines_is_refused_with_the_failing_field_and_nothing_is_written(
    ordering, helpers, lines, field
) -> None:
    book = str(uuid4())
    body = {
        "lines": [{**line, "book_id": book if line["book_id"] == "B1" else line["book_id"]} for line in lines]
    }

    response = await ordering.client.post("/api/v1/orders", json=body, headers=helpers.auth("alice"))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert field in [error["field"] for error in response.json()["errors"]]
    assert await nothing_written(ordering)


async def test_the_customer_comes_from_the_token_never_from_the_body(ordering, helpers) -> None:
    body = {"customer_id": "mallory", "lines": [{"book_id": str(uuid4()), "quantity": 1}]}
    response = await ordering.client.post("/api/v1/orders", json=body, headers=helpers.auth("alice"))
    assert response.status_code == 422
    assert await nothing_written(ordering)


async def test_placing_an_order_needs_a_token_with_an_email(ordering, helpers) -> None:
    body = {"lines": [{"book_id": str(uuid4()), "quantity": 1}]}
    anonymous = await ordering.client.post("/api/v1/orders", json=body)
    no_email = await ordering.client.post(
        "/api/v1/orders", json=body, headers=helpers.auth("alice", email=None)
    )
    assert (anonymous.status_code, no_email.status_code) == (401, 422)
    assert anonymous.headers["content-type"] == PROBLEM
    assert await nothing_written(ordering)


async def test_placing_answers_202_with_a_location_and_an_idempotency_key_replays_it(
    ordering, helpers
) -> None:
    body = {"lines": [{"book_id": str(uuid4()), "quantity": 2}]}
    headers = {**helpers.auth("alice"), "Idempotency-Key": "order-once"}

    first = await ordering.client.post("/api/v1/orders", json=body, headers=headers)
    again = await ordering.client.post("/api/v1/orders", json=body, headers=headers)

    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert first.headers["Location"] == again.headers["Location"] == f"/api/v1/orders/{first.json()['id']}"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await ordering.rows("SELECT count(*) FROM orders"))[0][0] == 1
    reserve_stock = await ordering.rows(
        "SELECT count(*) FROM outbox WHERE type = 'folio.catalog.reserve-stock.v1'"
    )
    assert reserve_stock[0][0] == 1


async def test_an_unknown_order_is_404_for_every_route(ordering, helpers) -> None:
    missing = new_id()
    admin = helpers.auth("root", admin=True)
    answers = [
        await ordering.client.get(f"/api/v1/orders/{missing}", headers=admin),
        await ordering.client.get(f"/api/v1/orders/{missing}/history", headers=admin),
        await ordering.client.post(f"/api/v1/orders/{missing}/cancel", headers=admin),
        await ordering.client.post(f"/api/v1/orders/{missing}/complete", headers=admin),
    ]
    assert [a.status_code for a in answers] == [404] * 4
    assert {a.headers["content-type"] for a in answers} == {PROBLEM}


async def test_a_customer_sees_and_cancels_only_their_own_orders(ordering, helpers) -> None:
    order_id = await ordering.place(customer="alice")
    await ordering.wait_for_status(order_id, "confirmed")
    bob = helpers.auth("bob")

    assert (await ordering.client.get(f"/api/v1/orders/{order_id}", headers=bob)).status_code == 404
    assert (await ordering.client.get(f"/api/v1/orders/{order_id}/history", headers=bob)).status_code == 404
    assert (await ordering.client.post(f"/api/v1/orders/{order_id}/cancel", headers=bob)).status_code == 404
    admin_view = await ordering.client.get(
        f"/api/v1/orders/{order_id}", headers=helpers.auth("root", admin=True)
    )
    assert admin_view.status_code == 200
    assert await ordering.status(order_id) == ("confirmed", "confirmed")


async def test_only_an_admin_completes_and_only_a_confirmed_order(ordering, helpers) -> None:
    ordering.catalog.decide = helpers.always("silent")
    order_id = await ordering.place(customer="alice")

    by_customer = await ordering.client.post(
        f"/api/v1/orders/{order_id}/complete", headers=helpers.auth("alice")
    )
    pending = await ordering.client.post(
        f"/api/v1/orders/{order_id}/complete", headers=helpers.auth("root", admin=True)
    )

    assert by_customer.status_code == 403
    assert pending.status_code == 409
    assert pending.json()["order_status"] == "pending"
    assert (await ordering.status(order_id))[0] == "pending"


async def test_summaries_list_a_customers_own_orders_and_an_admin_lists_anyones(ordering, helpers) -> None:
    ordering.catalog.decide = helpers.always("silent")
    for _ in range(3):
        await ordering.place((uuid4(), 2), (uuid4(), 1), customer="alice")
    await ordering.place(customer="bob")

    mine = await ordering.client.get("/api/v1/orders?size=2", headers=helpers.auth("alice"))
    page2 = await ordering.client.get("/api/v1/orders?size=2&page=2", headers=helpers.auth("alice"))
    others = await ordering.client.get("/api/v1/orders?customer_id=bob", headers=helpers.auth("alice"))
    bobs = await ordering.client.get(
        "/api/v1/orders?customer_id=bob", headers=helpers.auth("root", admin=True)
    )
    everyone = await ordering.client.get("/api/v1/orders", headers=helpers.auth("root", admin=True))

    assert (mine.json()["total"], mine.json()["pages"], len(mine.json()["items"])) == (3, 2, 2)
    assert len(page2.json()["items"]) == 1
    item = mine.json()["items"][0]
    assert (item["customer_id"], item["status"], item["item_count"], item["total"]) == (
        "alice",
        "pending",
        3,
        None,
    )
    assert {"placed_at", "last_change_at"} <= item.keys()
    assert others.status_code == 403
    assert [i["customer_id"] for i in bobs.json()["items"]] == ["bob"]
    assert everyone.json()["total"] == 4


async def test_a_summary_shows_the_total_once_the_catalog_priced_the_order(ordering, helpers) -> None:
    order_id = await ordering.place((uuid4(), 2), customer="alice")
    await ordering.wait_for_status(order_id, "confirmed")

    listed = await ordering.client.get("/api/v1/orders", headers=helpers.auth("alice"))

    [item] = listed.json()["items"]
    assert (item["status"], item["total"]) == ("confirmed", {"amount": "25.00", "currency": "EUR"})
