"""The deadline scanner on the real PostgreSQL: it asks the outbox whether a saga's request went out, and
the scan rides its index whatever the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from chassis.db import create_engine, session_factory
from contracts.envelope import new_id
from ordering.adapters.repositories import active_counts, due_sagas
from ordering.adapters.unit_of_work import OrderingUnitOfWork
from ordering.application.commands import PlaceOrder
from ordering.application.order_handlers import place_order, scan_due_sagas
from ordering.domain.lines import OrderLine
from ordering.domain.saga import SagaPolicy

pytestmark = pytest.mark.integration

POLICY = SagaPolicy(
    first_deadline=timedelta(seconds=30),
    max_deadline=timedelta(minutes=10),
    give_up_after=timedelta(minutes=15),
    jitter=0,
    new_id=new_id,
)
NOW = datetime.now(UTC)


@pytest.fixture
async def uows(empty_ordering_database):
    engine = create_engine(empty_ordering_database, pool_size=2, max_overflow=0)
    sessions = session_factory(engine)
    try:
        yield lambda: OrderingUnitOfWork(sessions, policy=POLICY)
    finally:
        await engine.dispose()


async def rows(uows, sql: str, **params):
    async with uows() as uow:
        return (await uow.session.execute(text(sql), params)).all()


async def execute(uows, *statements: str, **params) -> None:
    async with uows() as uow:
        for statement in statements:
            await uow.session.execute(text(statement), params)
        await uow.commit()


async def place(uows):
    command = PlaceOrder(uuid4(), "alice", "alice@example.com", [OrderLine(uuid4(), 1)])
    async with uows() as uow:
        order = await place_order(command, uow, now=NOW)
        await uow.commit()
    return order.id


async def requests(uows, order_id):
    return await rows(
        uows,
        "SELECT message_id, published_at FROM outbox WHERE type = 'folio.catalog.reserve-stock.v1'"
        " AND headers->>'cloudEvents_subject' = :id ORDER BY id",
        id=str(order_id),
    )


async def saga(uows, order_id):
    (row,) = await rows(uows, "SELECT * FROM order_sagas WHERE order_id = :id", id=order_id)
    return row


async def test_a_request_the_relay_has_not_published_is_neither_resent_nor_given_up(uows) -> None:
    order_id = await place(uows)
    (first,) = await requests(uows, order_id)
    assert (await saga(uows, order_id)).request_id == first.message_id

    # An hour of broker outage: the ReserveStock never left the outbox.
    for minutes in (1, 20, 60):
        assert await scan_due_sagas(uows, NOW + timedelta(minutes=minutes)) == 1
    assert len(await requests(uows, order_id)) == 1
    state = await saga(uows, order_id)
    assert (state.state, state.attempts, state.sent_at) == ("awaiting_stock", 1, None)

    # Published at last: it gets its interval from then, and the horizon starts there.
    published = NOW + timedelta(minutes=61)
    await execute(
        uows, "UPDATE outbox SET published_at = :at WHERE message_id = :id", at=published, id=first.message_id
    )
    assert await scan_due_sagas(uows, published + timedelta(seconds=1)) == 1
    assert len(await requests(uows, order_id)) == 1
    assert (await saga(uows, order_id)).deadline_at == published + POLICY.first_deadline

    assert await scan_due_sagas(uows, published + POLICY.first_deadline) == 1
    _, resent = await requests(uows, order_id)
    state = await saga(uows, order_id)
    assert (state.state, state.attempts, state.sent_at) == ("awaiting_stock", 2, published)
    assert state.request_id == resent.message_id != first.message_id


async def test_the_scan_and_the_metrics_queries_use_their_indexes_beside_a_long_history(uows) -> None:
    # 20,000 finished sagas beside 20 in flight; the same plans hold with 1,000,000 (see the README).
    await execute(
        uows,
        "INSERT INTO orders (id, customer_id, customer_email, status, placed_at, updated_at)"
        " SELECT gen_random_uuid(), 'c', 'c@example.com', 'cancelled', now(), now()"
        " FROM generate_series(1, 20000)",
        "INSERT INTO order_sagas (order_id, state, version, attempts, updated_at)"
        " SELECT id, 'cancelled', 3, 1, now() FROM orders",
    )
    for _ in range(20):
        await place(uows)
    await execute(uows, "ANALYZE order_sagas")

    async with uows() as uow:
        plans = {}
        for name, statement in (
            ("due", due_sagas(NOW + timedelta(hours=1), 100)),
            ("counts", active_counts()),
        ):
            compiled = statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
            explained = await uow.session.execute(text(f"EXPLAIN {compiled}"))
            plans[name] = "\n".join(r[0] for r in explained.all())
        counts = await uow.sagas.count_by_state()
        oldest = await uow.sagas.oldest_waiting_since()
    assert "order_sagas_due" in plans["due"], plans["due"]
    assert "order_sagas_active" in plans["counts"], plans["counts"]
    assert counts == {
        "awaiting_stock": 20,
        "cancel_requested_awaiting_stock": 0,
        "confirmed": 0,
        "releasing": 0,
    }
    assert oldest == NOW
