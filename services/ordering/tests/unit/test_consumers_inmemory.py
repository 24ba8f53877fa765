"""ordering's worker in memory: each queue takes its contract models, parks what it does not take."""

from __future__ import annotations

from contracts.catalog import StockReleased, StockReservationRejected, StockReserved
from ordering.entrypoints.consumers import subscriptions
from testkit.inmemory import deliver_examples


async def test_each_queue_hands_its_contract_models_to_its_handler_and_parks_a_stranger_at_once() -> None:
    run = await deliver_examples("ordering", subscriptions())
    assert [(h, type(m)) for h, m in run.handled] == [
        ("stock_reserved", StockReserved),
        ("stock_reservation_rejected", StockReservationRejected),
        ("stock_released", StockReleased),
    ]
    assert run.handled == run.sent
    assert run.parked == {s.handler: ["UnexpectedType"] for s in subscriptions()}
