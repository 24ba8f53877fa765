"""An outbox relay in a process of its own, running until the outbox is drained (for test_relay_sigkill.py).

    python relay_process.py DATABASE_URL AMQP_URL

With ``FOLIO_TEST_KILL_BEFORE_MARK=1`` the process SIGKILLs itself once the broker has confirmed a batch and
before that batch is marked published: the crash the outbox must survive. The hook lives here, in a test-only
subclass, not in the relay.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.db import create_engine
from chassis.outbox import OutboxRelay, RelayOptions
from chassis.outbox.publisher import BatchResult
from chassis.tables import outbox


class DiesBeforeMarking(OutboxRelay):
    async def _record(self, connection: asyncpg.Connection, result: BatchResult) -> None:
        if result.confirmed:
            print(f"confirmed {len(result.confirmed)}; dying before the mark", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        await super()._record(connection, result)


async def main(database_url: str, amqp_url: str) -> None:
    relay_class = DiesBeforeMarking if os.environ.get("FOLIO_TEST_KILL_BEFORE_MARK") == "1" else OutboxRelay
    engine = create_engine(database_url)
    options = RelayOptions(batch_size=1000, poll_interval=0.1)
    try:
        relay = relay_class(engine, amqp_url, options)
        stop = asyncio.Event()
        # The relay as a worker runs it (retrying whatever fails), until the outbox has nothing left to send.
        running = asyncio.create_task(relay.run(stop))
        await asyncio.wait_for(drained(engine), timeout=60)
        stop.set()
        await running
        print(f"published {relay.published}", flush=True)
    finally:
        await engine.dispose()


async def drained(engine: AsyncEngine) -> None:
    pending = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
    while True:
        async with engine.connect() as connection:
            if not (await connection.execute(pending)).scalar_one():
                return
        await asyncio.sleep(0.1)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
