"""A relay SIGKILLed between the broker's confirms and the mark republishes on restart, and a consumer that
claims each message in its inbox, in the transaction of its effect, keeps the effect single."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import aio_pika
import pytest
from sqlalchemy import BigInteger, Column, Identity, MetaData, Table, Uuid, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.db import create_chassis_tables, create_engine, session_factory
from chassis.inbox import claim
from chassis.tables import inbox, outbox
from chassis.uow import UnitOfWork, outbox_row
from contracts.base import Event

pytestmark = pytest.mark.integration

RELAY_PROCESS = Path(__file__).with_name("relay_process.py")
EXCHANGE = "test.events"
ROWS = 50

test_metadata = MetaData()
# One row per effect, deliberately without a unique key: a doubled effect would show as a second row.
effects = Table(
    "effects",
    test_metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("message_id", Uuid, nullable=False),
)


class Pinged(Event):
    TYPE: ClassVar[str] = "folio.test.pinged.v1"
    OWNER: ClassVar[str] = "test"
    SUBJECT: ClassVar[str] = "n"
    n: int


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await create_chassis_tables(engine)
    async with engine.begin() as connection:
        await connection.run_sync(test_metadata.create_all)
    yield engine
    await engine.dispose()


async def run_relay_process(database_url: str, amqp_url: str, *, kill_before_mark: bool) -> tuple[int, str]:
    env = {**os.environ, "FOLIO_TEST_KILL_BEFORE_MARK": "1" if kill_before_mark else "0"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(RELAY_PROCESS),
        database_url,
        amqp_url,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        # An overrunning relay must not outlive the test: its database is dropped next.
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, output.decode()


async def count(engine: AsyncEngine, query: object) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())  # type: ignore[call-overload]


async def test_sigkill_between_publish_and_mark_republishes_and_the_inbox_keeps_one_effect(
    engine: AsyncEngine, database_url: str, amqp_url: str
) -> None:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue("test.effects", durable=True)
        await queue.bind(exchange, "#")

        rows = [outbox_row(Pinged(n=n), source="test") for n in range(ROWS)]
        async with engine.begin() as db:
            await db.execute(insert(outbox), rows)
        pending = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))

        code, output = await run_relay_process(database_url, amqp_url, kill_before_mark=True)
        assert code == -signal.SIGKILL, output
        assert f"confirmed {ROWS}" in output
        # The broker has the whole batch, but the outbox still says none went out.
        declared = await channel.declare_queue("test.effects", passive=True)
        assert declared.declaration_result.message_count == ROWS
        assert await count(engine, pending) == ROWS

        code, output = await run_relay_process(database_url, amqp_url, kill_before_mark=False)
        assert code == 0, output
        assert f"published {ROWS}" in output
        assert await count(engine, pending) == 0

        # The consumer: each delivery claims its message id in the inbox, in the transaction of its effect.
        deliveries: list[str] = []
        factory = session_factory(engine)
        while (message := await queue.get(fail=False, timeout=5)) is not None:
            assert message.message_id is not None
            message_id = uuid.UUID(message.message_id)
            deliveries.append(message.message_id)
            async with UnitOfWork(factory, source="test") as uow:
                if await claim(
                    uow.session, consumer="test.effects", message_id=message_id, message_type=Pinged.TYPE
                ):
                    await uow.session.execute(insert(effects).values(message_id=message_id))
                await uow.commit()
            await message.ack()
    finally:
        await connection.close()

    assert len(deliveries) == 2 * ROWS
    assert len(set(deliveries)) == ROWS
    assert await count(engine, select(func.count()).select_from(effects)) == ROWS
    assert await count(engine, select(func.count(effects.c.message_id.distinct()))) == ROWS
    assert await count(engine, select(func.count()).select_from(inbox)) == ROWS
