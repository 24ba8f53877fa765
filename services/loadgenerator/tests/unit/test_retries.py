"""A shed order is sent again after its Retry-After, as the same order; the sender knows its own pace."""

from __future__ import annotations

import random

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from loadgenerator.client import http_client
from loadgenerator.orders import offered_rate, place, send_step
from loadgenerator.schedule import RateStep


class SheddingApi:
    """Sheds the first ``shed`` attempts of every key with 503 and ``Retry-After: 0``, then accepts."""

    def __init__(self, shed: int, retry_after: str = "0") -> None:
        self.shed, self.retry_after = shed, retry_after
        self.attempts: list[tuple[str, object]] = []

    async def handle(self, request: web.Request) -> web.Response:
        key = request.headers["Idempotency-Key"]
        self.attempts.append((key, await request.json()))
        if sum(1 for seen, _ in self.attempts if seen == key) <= self.shed:
            return web.json_response({"status": 503}, status=503, headers={"Retry-After": self.retry_after})
        return web.json_response({"id": f"order-{key}", "status": "pending"}, status=202)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v1/orders", self.handle)
        return app


async def test_a_shed_order_is_retried_as_the_same_order_until_accepted() -> None:
    api = SheddingApi(shed=2)
    async with TestServer(api.app()) as server, http_client() as client:
        lines: list[dict[str, object]] = [{"book_id": "b", "quantity": 1}]
        placement = await place(client, str(server.make_url("/api/v1/orders")), "t", lines, retry_for=30)

    keys = {key for key, _ in api.attempts}
    bodies = [body for _, body in api.attempts]
    assert (placement.status, placement.shed) == (202, 2)
    assert placement.order_id == f"order-{keys.pop()}"
    assert not keys, "every attempt carried the same Idempotency-Key"
    assert bodies == [{"lines": lines}] * 3


async def test_an_order_shed_past_its_retry_budget_is_a_failure_not_a_loop() -> None:
    api = SheddingApi(shed=100, retry_after="5")
    async with TestServer(api.app()) as server, http_client() as client:
        url = str(server.make_url("/api/v1/orders"))
        placement = await place(client, url, "t", [{"book_id": "b", "quantity": 1}], retry_for=1)

    assert (placement.order_id, placement.status, placement.shed) == (None, 503, 1)
    assert len(api.attempts) == 1, "a Retry-After beyond the budget is not waited for"


async def test_a_step_counts_what_it_offered_and_what_was_shed() -> None:
    api = SheddingApi(shed=1)
    async with TestServer(api.app()) as server, http_client() as client:
        base = str(server.make_url("")).rstrip("/")
        sent = await send_step(client, base, "t", RateStep(50, 0.2), ["a", "b"], random.Random(1))

    assert len(sent.placements) == 10
    assert sum(p.shed for p in sent.placements) == 10
    assert all(p.status == 202 for p in sent.placements)
    assert sent.offered_per_s is not None
    assert sent.cpu_percent is not None


def test_the_offered_rate_counts_intervals_between_first_attempts() -> None:
    assert offered_rate([10.0, 10.5, 11.0]) == pytest.approx(2.0)
    assert offered_rate([10.0]) is None
