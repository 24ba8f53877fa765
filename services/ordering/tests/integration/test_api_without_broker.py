"""An API started while the broker is away is ready and takes orders: they wait in its outbox."""

from __future__ import annotations

import socket

import httpx
import pytest

from chassis.app import create_api
from contracts.envelope import new_id
from ordering.entrypoints.definition import definition
from ordering.entrypoints.settings import OrderingSettings

pytestmark = pytest.mark.integration


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens there once the probe socket is closed


async def test_an_api_whose_broker_is_away_is_ready_and_takes_an_order_into_its_outbox(
    empty_ordering_database, helpers
) -> None:
    settings = OrderingSettings(
        database_url=empty_ordering_database,
        amqp_url=f"amqp://guest:guest@127.0.0.1:{closed_port()}/",
        auth_local_secret=helpers.secret,
        log_json=False,
    )
    app = create_api(definition(settings), settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ordering") as client,
    ):
        ready = await client.get("/health/ready")
        body = {"lines": [{"book_id": str(new_id()), "quantity": 1}]}
        placed = await client.post("/api/v1/orders", json=body, headers=helpers.auth("alice"))
        engine = app.state.engine
        async with engine.connect() as connection:
            pending = (
                (
                    await connection.exec_driver_sql(
                        "SELECT type FROM outbox WHERE published_at IS NULL ORDER BY id"
                    )
                )
                .scalars()
                .all()
            )

    assert ready.status_code == 200, ready.json()
    assert {check["name"] for check in ready.json()["checks"]} == {"database", "migrations"}
    assert placed.status_code == 202, placed.text
    assert pending == ["folio.ordering.order-placed.v1", "folio.catalog.reserve-stock.v1"]
