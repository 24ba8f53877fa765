"""The inbox: a consumer records each message id it handles in the handler's own transaction."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from chassis.tables import inbox

# Built once: every delivery runs it, with its own parameters.
_CLAIM = (
    insert(inbox)
    .on_conflict_do_nothing(index_elements=[inbox.c.consumer, inbox.c.message_id])
    .returning(inbox.c.message_id)
)


async def claim(session: AsyncSession, *, consumer: str, message_id: UUID, message_type: str) -> bool:
    """Record that ``consumer`` handles ``message_id``; False when it already did (a duplicate to skip).

    Must run inside the transaction that holds the handler's effects: if that transaction rolls back,
    the claim goes with it and the message will be handled again.
    """
    parameters = {"consumer": consumer, "message_id": message_id, "message_type": message_type}
    return (await session.execute(_CLAIM, parameters)).first() is not None
