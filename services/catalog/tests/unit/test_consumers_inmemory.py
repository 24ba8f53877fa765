"""catalog's worker in memory: each queue takes its contract models, parks what it does not take."""

from __future__ import annotations

from catalog.entrypoints.consumers import subscriptions
from contracts.catalog import ReleaseStock, ReserveStock
from contracts.rating import FeedbackDeleted, FeedbackSubmitted
from testkit.inmemory import deliver_examples


async def test_each_queue_hands_its_contract_models_to_its_handler_and_parks_a_stranger_at_once() -> None:
    run = await deliver_examples("catalog", subscriptions())
    assert [(h, type(m)) for h, m in run.handled] == [
        ("reserve_stock", ReserveStock),
        ("release_stock", ReleaseStock),
        ("rating_projection", FeedbackSubmitted),
        ("rating_projection", FeedbackDeleted),
    ]
    assert run.handled == run.sent
    assert run.parked == {s.handler: ["UnexpectedType"] for s in subscriptions()}
