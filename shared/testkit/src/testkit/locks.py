"""Is a session blocked? For tests that show one transaction waiting on another, without sleeping on it."""

from __future__ import annotations

import asyncpg

from testkit.faults import database_name
from testkit.servers import test_servers


async def waiting_on_a_lock(database_url: str) -> bool:
    """A session of the test's own database waits right now on a lock (a row, a table, an advisory lock)."""
    admin = await asyncpg.connect(test_servers().postgres_url)
    try:
        waiting = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
            database_name(database_url),
        )
    finally:
        await admin.close()
    return int(waiting) > 0
