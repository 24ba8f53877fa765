"""Admission: while as many orders as ordering takes on wait for the catalog's answer, a new order is
refused 503 with Retry-After and nothing of it is written; an order placed already still replays, and the
refused one, retried with its key once the catalog has answered, is placed once."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest

pytestmark = [
    pytest.mark.integration,
    # Long deadlines: the silent catalog must not be asked again while the test looks.
    pytest.mark.saga_deadline(60),
    pytest.mark.ordering_settings(max_orders_awaiting_stock=2),
]


async def test_past_the_orders_awaiting_stock_a_new_order_is_refused_and_its_retry_placed_once(
    ordering, helpers
) -> None:
    ordering.catalog.decide = helpers.always("silent")
    body = {"lines": [{"book_id": str(uuid4()), "quantity": 1}]}

    async def post(key: str) -> httpx.Response:
        headers = {**helpers.auth("alice"), "Idempotency-Key": key}
        return await ordering.client.post("/api/v1/orders", json=body, headers=headers)

    placed = [await post("first"), await post("second")]
    refused = await post("third")
    replayed = await post("first")

    assert [r.status_code for r in placed] == [202, 202]
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) >= 1
    problem = refused.json()
    assert problem["type"] == "https://folio.example/problems/overloaded"
    assert "2 orders are waiting for the catalog" in problem["detail"]
    assert replayed.status_code == 202, "an order placed already is answered as placed"
    assert replayed.json() == placed[0].json()
    assert (await ordering.rows("SELECT count(*) FROM orders"))[0][0] == 2, "nothing of the refused one"

    async def both_asked() -> bool:
        return len(ordering.catalog.reserves) == 2

    await helpers.eventually(both_asked, what="two ReserveStock")
    for command in list(ordering.catalog.reserves):
        ordering.catalog.answer(command, "reserve")

    async def retried() -> bool:
        response = await post("third")
        assert response.status_code in (202, 503), response.text
        return response.status_code == 202

    await helpers.eventually(retried, what="the refused order placed on its retry")
    again = await post("third")
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (await ordering.rows("SELECT count(*) FROM orders"))[0][0] == 3, "placed once"
