"""The inbox: a message handled twice (same id) has one effect, even when both handlings race; a handling
that rolls back releases its claim, so a redelivery still takes effect."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import BigInteger, Column, Identity, MetaData, Table, Text, Uuid, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.db import create_chassis_tables, create_engine, session_factory
from chassis.inbox import claim
from chassis.tables import inbox
from chassis.uow import UnitOfWork
from testkit.locks import waiting_on_a_lock
from testkit.polling import eventually

pytestmark = pytest.mark.integration

CONSUMER = "test.effects"
TYPE = "folio.test.pinged.v1"

test_metadata = MetaData()
# No unique key on purpose: only the inbox stands between a duplicate and a second effect.
effects = Table(
    "effects",
    test_metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("message_id", Uuid, nullable=False),
    Column("consumer", Text, nullable=False),
)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await create_chassis_tables(engine)
    async with engine.begin() as connection:
        await connection.run_sync(test_metadata.create_all)
    yield engine
    await engine.dispose()


async def handle(
    engine: AsyncEngine,
    message_id: uuid.UUID,
    *,
    consumer: str = CONSUMER,
    fail: bool = False,
    hold: asyncio.Event | None = None,
) -> bool:
    """A handler as the worker runs it: claim, effect, commit, all in one unit of work."""
    async with UnitOfWork(session_factory(engine), source="test") as uow:
        if not await claim(uow.session, consumer=consumer, message_id=message_id, message_type=TYPE):
            return False
        await uow.session.execute(insert(effects).values(message_id=message_id, consumer=consumer))
        if hold is not None:
            await hold.wait()
        if fail:
            raise RuntimeError("handler failed")
        await uow.commit()
        return True


async def effect_count(engine: AsyncEngine, message_id: uuid.UUID, consumer: str = CONSUMER) -> int:
    async with engine.connect() as connection:
        query = (
            select(func.count())
            .select_from(effects)
            .where(effects.c.message_id == message_id, effects.c.consumer == consumer)
        )
        return (await connection.execute(query)).scalar_one()


async def test_the_same_message_twice_has_one_effect(engine: AsyncEngine) -> None:
    message_id = uuid.uuid4()
    assert await handle(engine, message_id) is True
    assert await handle(engine, message_id) is False
    assert await effect_count(engine, message_id) == 1


async def test_two_concurrent_deliveries_have_one_effect(engine: AsyncEngine, database_url: str) -> None:
    message_id = uuid.uuid4()
    release = asyncio.Event()
    first = asyncio.create_task(handle(engine, message_id, hold=release))
    await asyncio.sleep(0.2)
    # The second claim waits on the first's uncommitted row, then sees the conflict once it commits.
    second = asyncio.create_task(handle(engine, message_id))
    await eventually(lambda: waiting_on_a_lock(database_url), what="the second claim blocked")
    assert not second.done()
    release.set()
    assert sorted(await asyncio.gather(first, second)) == [False, True]
    assert await effect_count(engine, message_id) == 1


async def test_a_failed_handling_releases_its_claim(engine: AsyncEngine) -> None:
    message_id = uuid.uuid4()
    with pytest.raises(RuntimeError, match="handler failed"):
        await handle(engine, message_id, fail=True)
    assert await effect_count(engine, message_id) == 0
    assert await handle(engine, message_id) is True
    assert await effect_count(engine, message_id) == 1


async def test_each_consumer_has_its_own_claim(engine: AsyncEngine) -> None:
    message_id = uuid.uuid4()
    assert await handle(engine, message_id, consumer="a.handler") is True
    assert await handle(engine, message_id, consumer="b.handler") is True
    assert await handle(engine, message_id, consumer="b.handler") is False
    async with engine.connect() as connection:
        assert (await connection.execute(select(func.count()).select_from(inbox))).scalar_one() == 2
