"""Two ordering workers at once, 200 orders, a catalog that answers late, twice, never, or not at all."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from uuid import UUID, uuid4

import aio_pika
import pytest

from ordering.application.commands import PlaceOrder
from ordering.application.order_handlers import place_order
from ordering.domain.lines import OrderLine

pytestmark = pytest.mark.integration

ORDERS = 200
# Saga steps that change the saga: each bumps its version once, so versions count them exactly.
CHANGING = {
    "confirmed",
    "rejected",
    "reserve_stock_resent",
    "release_stock_resent",
    "deadline_moved",
    "gave_up",
    "cancel_requested",
    "cancelling",
    "cancelled",
    "completed",
    "late_reservation_released",
}


async def consumers_of(ordering, queue: str) -> int:
    """Consumers on ``queue`` right now (the declare-ok says; the management API's stats lag)."""
    connection = await aio_pika.connect(ordering.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        count: int = declared.declaration_result.consumer_count
        return count


SETTLED = {
    ("confirmed", "confirmed"),
    ("rejected", "rejected"),
    ("cancelled", "cancelled"),
    ("cancelled", "abandoned"),
}


async def test_two_workers_settle_200_orders_with_no_lost_update_and_none_left_in_between(
    ordering, helpers
) -> None:
    await ordering.start_worker()
    assert await consumers_of(ordering, "ordering.stock_reserved") == 2
    rng = random.Random(4)
    plans: dict[UUID, str] = {}

    def decide(command, attempt):
        plan = plans.setdefault(
            command.order_id,
            rng.choices(
                ["reserve", "reject", "second", "late", "twice", "never"], weights=[35, 15, 15, 10, 10, 15]
            )[0],
        )
        if plan == "second":
            return "silent" if attempt == 1 else "reserve"
        if plan == "late":  # lands around the deadline, racing the scanners
            return ("reserve", helpers.timeout * rng.uniform(0.8, 1.2))
        if plan == "twice":
            ordering.catalog.answer(command, ("reserve", 0.05))
            return "reserve"
        if plan == "never":
            return "silent"
        return plan

    ordering.catalog.decide = decide

    async def place(n: int) -> UUID:
        command = PlaceOrder(
            order_id=uuid4(),
            customer_id=f"customer-{n % 10}",
            customer_email=f"customer-{n % 10}@example.com",
            lines=[OrderLine(uuid4(), 1 + n % 3)],
        )
        async with ordering.uow() as uow:
            order = await place_order(command, uow)
            await uow.commit()
            return order.id

    async def cancel_soon(order_id: UUID, customer: str) -> None:
        await asyncio.sleep(rng.uniform(0, 2 * helpers.timeout))
        response = await ordering.client.post(
            f"/api/v1/orders/{order_id}/cancel", headers=helpers.auth(customer)
        )
        # Refused only when the order was rejected in the meantime.
        assert response.status_code in (202, 409), response.text

    order_ids: list[UUID] = []
    cancels: list[asyncio.Task[None]] = []
    for start in range(0, ORDERS, 5):
        placed = await asyncio.gather(*(place(n) for n in range(start, start + 5)))
        order_ids.extend(placed)
        for n, order_id in enumerate(placed, start):
            if n % 5 == 0:
                cancels.append(asyncio.create_task(cancel_soon(order_id, f"customer-{n % 10}")))
    await asyncio.gather(*cancels)

    async def all_settled() -> bool:
        rows = await ordering.rows(
            "SELECT o.status, s.state FROM orders o JOIN order_sagas s ON s.order_id = o.id"
            " WHERE (o.status, s.state) NOT IN (('confirmed', 'confirmed'), ('rejected', 'rejected'),"
            " ('cancelled', 'cancelled'), ('cancelled', 'abandoned'))"
        )
        return not rows

    await helpers.eventually(all_settled, within=60, what="every order to settle")
    # Late answers keep coming: stop the workers so that what is read next holds still.
    await ordering.stop_workers()

    states = await ordering.rows(
        "SELECT o.id, o.status, s.state, s.version, s.attempts"
        " FROM orders o JOIN order_sagas s ON s.order_id = o.id"
    )
    assert len(states) == ORDERS
    assert {(row.status, row.state) for row in states} <= SETTLED
    history = await ordering.rows("SELECT order_id, change FROM order_history")
    changes_per_order = Counter(row.order_id for row in history if row.change in CHANGING)
    # No lost update: every change the history records is one version of the saga, and no more.
    lost = {
        row.id: (row.version, changes_per_order[row.id])
        for row in states
        if row.version != 1 + changes_per_order[row.id]
    }
    assert lost == {}
    # A cancelled saga's attempts count its ReleaseStock sends (resent until answered, however slowly);
    # the ReserveStock sends of every saga are bounded below.
    assert max(row.attempts for row in states if row.state != "cancelled") <= helpers.max_attempts

    outbox = await ordering.rows("SELECT type, headers->>'cloudEvents_subject' AS subject FROM outbox")
    sent = Counter((row.type.split(".")[2], UUID(row.subject)) for row in outbox)
    for row in states:
        assert sent["order-placed", row.id] == 1
        assert sent["order-confirmed", row.id] <= 1
        assert sent["order-cancelled", row.id] == (0 if row.status == "confirmed" else 1)
        assert 1 <= sent["reserve-stock", row.id] <= helpers.max_attempts
        if row.state == "abandoned":
            assert sent["release-stock", row.id] >= 1
    # Every kind of path was taken.
    assert Counter(row.state for row in states).keys() == {"confirmed", "rejected", "cancelled", "abandoned"}
