"""The quiescence checks say "still moving" while there is something left, and only then "quiet"."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.tables import inbox, outbox
from chassis.uow import outbox_row
from contracts.catalog import BookCreated
from contracts.examples import example
from testkit.quiescence import handled, relay_drained

pytestmark = pytest.mark.integration


async def test_the_relay_is_drained_once_no_row_waits_and_a_given_up_row_does_not_wait(
    chassis_engine: AsyncEngine,
) -> None:
    assert await relay_drained(chassis_engine)
    async with chassis_engine.begin() as connection:
        for _ in range(2):
            await connection.execute(
                insert(outbox).values(**outbox_row(example(BookCreated), source="/test"))
            )
    assert not await relay_drained(chassis_engine)

    async with chassis_engine.begin() as connection:
        first, second = (await connection.execute(outbox.select().order_by(outbox.c.id))).all()
        await connection.execute(
            update(outbox).where(outbox.c.id == first.id).values(published_at=first.created_at)
        )
    assert not await relay_drained(chassis_engine)

    async with chassis_engine.begin() as connection:
        await connection.execute(
            update(outbox).where(outbox.c.id == second.id).values(failed_at=second.created_at)
        )
    assert await relay_drained(chassis_engine)


async def test_messages_are_handled_once_each_has_its_inbox_row_of_that_consumer(
    chassis_engine: AsyncEngine,
) -> None:
    chassis_engine = chassis_engine
    one, two = (outbox_row(example(BookCreated), source="/test")["message_id"] for _ in range(2))
    async with chassis_engine.begin() as connection:
        await connection.execute(insert(inbox).values(consumer="c.a", message_id=one, message_type="t"))
    assert await handled(chassis_engine, [one])
    assert await handled(chassis_engine, [one], consumer="c.a")
    assert not await handled(chassis_engine, [one], consumer="c.b")
    assert not await handled(chassis_engine, [one, two])
