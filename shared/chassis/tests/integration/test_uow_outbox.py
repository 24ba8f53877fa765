"""A state change and its outbox rows commit together or roll back together (real PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import asyncpg
import pytest
from sqlalchemy import Column, MetaData, Table, Text, Uuid, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.db import asyncpg_dsn, create_chassis_tables, create_engine, session_factory
from chassis.tables import OUTBOX_CHANNEL, outbox
from chassis.uow import UnitOfWork
from contracts.base import Command, Event
from contracts.envelope import CAUSATION_ID, CORRELATION_ID, ID, SOURCE, TYPE, Envelope

pytestmark = pytest.mark.integration

test_metadata = MetaData()
things = Table(
    "things",
    test_metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
)


class ThingRenamed(Event):
    TYPE: ClassVar[str] = "folio.test.thing-renamed.v1"
    OWNER: ClassVar[str] = "test"
    SUBJECT: ClassVar[str] = "thing_id"
    thing_id: str
    name: str


@dataclass
class Renamed:
    """The domain event; the unit of work's mapper turns it into the contracts message."""

    thing_id: uuid.UUID
    name: str


@dataclass
class Thing:
    id: uuid.UUID
    name: str
    events: list[Any] = field(default_factory=list)

    def rename(self, name: str) -> None:
        self.name = name
        self.events.append(Renamed(self.id, name))


class CheckThing(Command):
    TYPE: ClassVar[str] = "folio.test.check-thing.v1"
    OWNER: ClassVar[str] = "test"
    SUBJECT: ClassVar[str] = "thing_id"
    thing_id: str


@dataclass(frozen=True)
class Check:
    """A domain command: the unit of work's mapper turns it into the contracts command."""

    thing_id: uuid.UUID
    message_id: uuid.UUID


def to_message(event: Any) -> ThingRenamed | CheckThing | None:
    if isinstance(event, Check):
        return CheckThing(thing_id=str(event.thing_id))
    return ThingRenamed(thing_id=str(event.thing_id), name=event.name) if isinstance(event, Renamed) else None


class ThingsUnitOfWork(UnitOfWork):
    async def save(self, thing: Thing) -> None:
        await self.session.execute(update(things).where(things.c.id == thing.id).values(name=thing.name))
        self.track(thing)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await create_chassis_tables(engine)
    async with engine.begin() as connection:
        await connection.run_sync(test_metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def thing(engine: AsyncEngine) -> Thing:
    thing = Thing(uuid.uuid4(), "before")
    async with engine.begin() as connection:
        await connection.execute(insert(things).values(id=thing.id, name=thing.name))
    return thing


def unit_of_work(engine: AsyncEngine, mapper: Any = to_message) -> ThingsUnitOfWork:
    return ThingsUnitOfWork(session_factory(engine), source="test", event_mapper=mapper)


async def state(engine: AsyncEngine, thing: Thing) -> tuple[str, int]:
    async with engine.connect() as connection:
        name = (await connection.execute(select(things.c.name).where(things.c.id == thing.id))).scalar_one()
        rows = (await connection.execute(select(func.count()).select_from(outbox))).scalar_one()
    return name, rows


async def test_commit_writes_the_state_and_its_outbox_rows(engine: AsyncEngine, thing: Thing) -> None:
    async with unit_of_work(engine) as uow:
        thing.rename("after")
        await uow.save(thing)
        await uow.commit()

    assert await state(engine, thing) == ("after", 1)
    async with engine.connect() as connection:
        row = (await connection.execute(select(outbox))).one()
    assert row.exchange == "test.events"
    assert row.routing_key == row.type == ThingRenamed.TYPE
    assert ThingRenamed.from_wire(row.body) == ThingRenamed(thing_id=str(thing.id), name="after")
    assert row.headers[ID] == str(row.message_id)
    assert row.headers[TYPE] == ThingRenamed.TYPE
    assert row.headers[SOURCE] == "test"
    assert row.headers[CORRELATION_ID] == str(thing.id)
    assert row.published_at is None
    assert thing.events == []


async def test_an_exception_after_the_writes_leaves_neither(engine: AsyncEngine, thing: Thing) -> None:
    async def rename_then_fail() -> None:
        async with unit_of_work(engine) as uow:
            thing.rename("after")
            await uow.save(thing)
            # Both the state and the outbox row are written in the transaction before the failure.
            assert await uow.flush_outbox() == 1
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await rename_then_fail()

    assert await state(engine, thing) == ("before", 0)


async def test_a_failure_while_committing_leaves_neither(engine: AsyncEngine, thing: Thing) -> None:
    def broken_mapper(event: Any) -> ThingRenamed | None:
        raise ValueError("cannot map")

    async def rename() -> None:
        async with unit_of_work(engine, broken_mapper) as uow:
            thing.rename("after")
            await uow.save(thing)
            await uow.commit()

    with pytest.raises(ValueError, match="cannot map"):
        await rename()

    assert await state(engine, thing) == ("before", 0)


async def test_leaving_without_commit_rolls_back(engine: AsyncEngine, thing: Thing) -> None:
    async with unit_of_work(engine) as uow:
        thing.rename("after")
        await uow.save(thing)
        await uow.flush_outbox()

    assert await state(engine, thing) == ("before", 0)


async def test_causation_and_correlation_come_from_the_message_being_handled(
    engine: AsyncEngine, thing: Thing
) -> None:
    cause = Envelope(type="folio.test.x.v1", source="elsewhere", correlation_id="order-1")
    async with unit_of_work(engine) as uow:
        uow.caused_by(cause)
        assert uow.cause is cause
        thing.rename("after")
        await uow.save(thing)
        uow.send(Check(thing.id, uuid.uuid4()))
        await uow.commit()

    async with engine.connect() as connection:
        rows = (await connection.execute(select(outbox.c.headers))).scalars().all()
    assert len(rows) == 2
    for headers in rows:
        assert headers[CAUSATION_ID] == str(cause.id)
        assert headers[CORRELATION_ID] == "order-1"
    async with unit_of_work(engine) as uow:
        assert uow.cause is None, "a cause belongs to one unit of work, not to the next"


async def test_a_sent_domain_command_leaves_as_its_contracts_command(
    engine: AsyncEngine, thing: Thing
) -> None:
    check = Check(thing.id, uuid.uuid4())
    async with unit_of_work(engine) as uow:
        uow.send(check)
        await uow.commit()

    async with engine.connect() as connection:
        row = (await connection.execute(select(outbox))).one()
    assert row.message_id == check.message_id
    assert (row.exchange, row.routing_key) == (CheckThing.exchange(), CheckThing.routing_key())
    assert CheckThing.from_wire(row.body) == CheckThing(thing_id=str(thing.id))
    assert CAUSATION_ID not in row.headers
    assert row.headers[CORRELATION_ID] == str(thing.id)


async def test_a_command_that_maps_to_nothing_is_refused(engine: AsyncEngine) -> None:
    async with unit_of_work(engine) as uow:
        with pytest.raises(TypeError, match="maps to no message"):
            # The mapper keeps what it does not know inside the service: fine for an event, not a command.
            uow.send(object())


async def test_commit_notifies_the_relay_and_rollback_does_not(
    engine: AsyncEngine, thing: Thing, database_url: str
) -> None:
    notified: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await listener.add_listener(OUTBOX_CHANNEL, lambda *args: notified.put_nowait(args[2]))
        await listener.add_listener("test_marker", lambda *args: notified.put_nowait(args[2]))

        async with unit_of_work(engine) as uow:
            thing.rename("rolled back")
            await uow.save(thing)
            await uow.flush_outbox()
        # Notifications arrive in commit order: a marker sent after the rollback comes first unless it did.
        async with engine.begin() as connection:
            await connection.execute(text("NOTIFY test_marker"))
        assert await asyncio.wait_for(notified.get(), timeout=15) == "test_marker"

        async with unit_of_work(engine) as uow:
            thing.rename("after")
            await uow.save(thing)
            await uow.commit()
        assert await asyncio.wait_for(notified.get(), timeout=15) == OUTBOX_CHANNEL
    finally:
        await listener.close()
