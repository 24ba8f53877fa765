"""Pruning deletes only published outbox rows past the retention, and only inbox rows past theirs."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import ClassVar

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.outbox import OutboxRelay, RelayOptions
from chassis.tables import inbox, outbox
from chassis.uow import outbox_row
from contracts.base import Event

pytestmark = pytest.mark.integration


class Pinged(Event):
    TYPE: ClassVar[str] = "folio.test.pinged.v1"
    OWNER: ClassVar[str] = "test"
    SUBJECT: ClassVar[str] = "n"
    n: int


@pytest.fixture
def engine(chassis_engine: AsyncEngine) -> AsyncEngine:
    return chassis_engine


async def test_pruning_removes_only_old_published_rows(engine: AsyncEngine) -> None:
    # (n, created, published): hours ago, None = not published.
    cases = {
        0: (50, 49),  # published long ago: pruned
        1: (50, None),  # old but never published: kept, whatever its age
        2: (3, 2),  # published within the retention: kept
        3: (0, None),  # new: kept
        4: (30, 25),  # published just past the retention: pruned
    }
    async with engine.begin() as connection:
        for n, (created, published) in cases.items():
            row = outbox_row(Pinged(n=n), source="test")
            await connection.execute(
                insert(outbox).values(
                    **row,
                    created_at=func.now() - timedelta(hours=created),
                    published_at=None if published is None else func.now() - timedelta(hours=published),
                )
            )
        fresh, stale = uuid.uuid4(), uuid.uuid4()
        await connection.execute(
            insert(inbox),
            [
                {"consumer": "c", "message_id": fresh, "message_type": Pinged.TYPE},
                {"consumer": "c", "message_id": stale, "message_type": Pinged.TYPE},
            ],
        )
        await connection.execute(
            text("UPDATE inbox SET received_at = now() - interval '40 days' WHERE message_id = :id"),
            {"id": stale},
        )

    options = RelayOptions(retention=timedelta(hours=24), inbox_retention=timedelta(days=30), prune_chunk=1)
    # Pruning never needs the broker; the URL is never dialled.
    relay = OutboxRelay(engine, "amqp://unused:unused@127.0.0.1:1/", options)
    assert await relay.prune() == (2, 1)
    assert await relay.prune() == (0, 0)

    async with engine.connect() as connection:
        kept = sorted((await connection.execute(select(outbox.c.body))).scalars())
        kept_inbox = list((await connection.execute(select(inbox.c.message_id))).scalars())
    assert sorted(Pinged.from_wire(body).n for body in kept) == [1, 2, 3]
    assert kept_inbox == [fresh]
