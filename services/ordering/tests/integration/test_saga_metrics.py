"""The saga gauges read the real sagas table: how many are under way per state, how long one has waited."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from chassis.lifecycle import open_resources
from ordering.adapters.saga_metrics import collect_sagas
from ordering.entrypoints.definition import definition

pytestmark = pytest.mark.integration


def instances(state: str) -> float | None:
    return REGISTRY.get_sample_value("folio_saga_instances", {"state": state})


async def test_a_saga_left_releasing_is_counted_and_its_wait_measured(ordering: Any, helpers: Any) -> None:
    waiting = await ordering.place()
    resting = await ordering.place()
    await ordering.wait_for_status(waiting, "confirmed", "confirmed")
    await ordering.wait_for_status(resting, "confirmed", "confirmed")
    # The catalog never answers the release: the saga waits in `releasing`, as if forgotten for 20 minutes.
    ordering.catalog.answer_releases = False
    response = await ordering.client.post(f"/api/v1/orders/{waiting}/cancel", headers=helpers.auth("alice"))
    assert response.status_code == 202, response.text
    await ordering.wait_for_status(waiting, "cancelling", "releasing")
    async with ordering.engine.begin() as connection:
        await connection.execute(
            text("UPDATE order_sagas SET updated_at = now() - interval '20 minutes' WHERE order_id = :id"),
            {"id": waiting},
        )

    async with open_resources(definition(ordering.settings), ordering.settings, asyncio.Event()) as resources:
        await collect_sagas(resources)

    assert (instances("releasing"), instances("confirmed"), instances("awaiting_stock")) == (1, 1, 0)
    age = REGISTRY.get_sample_value("folio_saga_oldest_active_age_seconds")
    assert age is not None
    assert 1200 <= age < 1300
