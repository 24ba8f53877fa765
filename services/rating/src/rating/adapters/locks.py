"""Transaction-scoped advisory locks on things that may not have a row yet (a first feedback, a new book)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

# First half of the two-int advisory lock key, one per kind of thing: keeps rating's locks apart from
# each other and from the chassis' (idempotency keys use 0x1DE4).
FEEDBACK_SLOT = 0x4A71
KNOWN_BOOK = 0x4A72


async def lock(session: AsyncSession, namespace: int, key: str) -> None:
    """Wait for, then hold until commit or rollback, the lock named ``key`` within ``namespace``.

    Two different keys may hash alike; they then merely queue behind each other.
    """
    await session.execute(select(func.pg_advisory_xact_lock(namespace, func.hashtext(key))))
