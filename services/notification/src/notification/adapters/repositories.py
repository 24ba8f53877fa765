"""Notifications in PostgreSQL: the aggregate to and from its row, and the sender's locking scans."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from notification.adapters.tables import NOTIFICATION_CHANNEL, notifications
from notification.domain.content import EmailContent
from notification.domain.notification import Notification, Status


def to_row(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "source_message_id": notification.source_message_id,
        "source_type": notification.source_type,
        "order_id": notification.order_id,
        "customer_id": notification.customer_id,
        "recipient": notification.recipient,
        "template": notification.template,
        "subject": notification.content.subject,
        "body_text": notification.content.text,
        "body_html": notification.content.html,
        "status": notification.status.value,
        "attempts": notification.attempts,
        "next_attempt_at": notification.next_attempt_at,
        "claimed_at": notification.claimed_at,
        "last_error": notification.last_error,
        "created_at": notification.created_at,
        "updated_at": notification.updated_at,
        "sent_at": notification.sent_at,
        "traceparent": notification.traceparent,
        "claim_id": notification.claim_id,
    }


def from_row(row: RowMapping) -> Notification:
    return Notification(
        id=row["id"],
        source_message_id=row["source_message_id"],
        source_type=row["source_type"],
        order_id=row["order_id"],
        customer_id=row["customer_id"],
        recipient=row["recipient"],
        template=row["template"],
        content=EmailContent(subject=row["subject"], text=row["body_text"], html=row["body_html"]),
        status=Status(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        claimed_at=row["claimed_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        sent_at=row["sent_at"],
        traceparent=row["traceparent"],
        claim_id=row["claim_id"],
    )


def due_query(now: datetime) -> Select[Any]:
    """The sender's claim: due ``pending`` rows, oldest due first (index ``notifications_due`` matches it)."""
    return (
        select(notifications)
        .where(notifications.c.status == Status.PENDING.value, notifications.c.next_attempt_at <= now)
        .order_by(notifications.c.next_attempt_at, notifications.c.id)
    )


def stuck_query(claimed_before: datetime) -> Select[Any]:
    """Rows ``sending`` since before ``claimed_before`` (index ``notifications_sending`` matches it)."""
    return (
        select(notifications)
        .where(notifications.c.status == Status.SENDING.value, notifications.c.claimed_at <= claimed_before)
        .order_by(notifications.c.claimed_at, notifications.c.id)
    )


def pending_count_query() -> Select[Any]:
    """How many notifications wait for the mail server (``pending`` or ``sending``).

    Written as an OR of the two partial indexes' predicates so that PostgreSQL reads only those indexes;
    ``status IN (...)`` would scan the whole history.
    """
    status = notifications.c.status
    waiting = or_(status == Status.PENDING.value, status == Status.SENDING.value)
    return select(func.count()).select_from(notifications).where(waiting)


def locking(statement: Select[Any], limit: int) -> Select[Any]:
    """``statement``'s first ``limit`` rows, locked for this transaction; rows locked elsewhere skipped."""
    return statement.limit(limit).with_for_update(skip_locked=True)


# What changes after a notification is recorded; the rest is written once.
_MUTABLE = (
    "status",
    "attempts",
    "next_attempt_at",
    "claimed_at",
    "claim_id",
    "last_error",
    "updated_at",
    "sent_at",
)

# Each statement built once. Parameters are named ``new_<column>``: a column's own name is reserved in an
# INSERT or UPDATE for the values SQLAlchemy would fill itself.
_ADDED = (
    insert(notifications)
    .values({column.key: bindparam(f"new_{column.key}") for column in notifications.c})
    .on_conflict_do_nothing(index_elements=[notifications.c.source_message_id])
    .returning(notifications.c.id)
    .cte("added")
)
# The row and the sender's wake-up in one statement: pg_notify runs only for a row really added (a
# duplicate returns none from ON CONFLICT DO NOTHING), and is delivered at commit, so the sender never
# wakes for a row it cannot see yet.
_ADD = select(_ADDED.c.id, func.pg_notify(NOTIFICATION_CHANNEL, "")).select_from(_ADDED)
_SAVE = (
    update(notifications)
    .where(notifications.c.id == bindparam("notification"))
    .values({name: bindparam(f"new_{name}") for name in _MUTABLE})
)
# The outcome of one attempt, written only while the row is still sending that attempt.
_SAVE_SETTLED = _SAVE.where(
    notifications.c.status == Status.SENDING.value, notifications.c.attempts == bindparam("attempt")
)


def _changes(notification: Notification) -> dict[str, Any]:
    row = to_row(notification)
    return {"notification": notification.id, **{f"new_{name}": row[name] for name in _MUTABLE}}


class SqlNotifications:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, notification: Notification) -> bool:
        values = {f"new_{name}": value for name, value in to_row(notification).items()}
        return (await self._session.execute(_ADD, values)).first() is not None

    async def save(self, notification: Notification) -> None:
        await self.save_all([notification])

    async def save_all(self, saved: Sequence[Notification]) -> None:
        if saved:
            await self._session.execute(_SAVE, [_changes(notification) for notification in saved])

    async def save_settled(self, notification: Notification, *, attempt: int) -> bool:
        result = await self._session.execute(_SAVE_SETTLED, {**_changes(notification), "attempt": attempt})
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def status_of(self, notification_id: UUID) -> Status | None:
        status = await self._session.scalar(
            select(notifications.c.status).where(notifications.c.id == notification_id)
        )
        return Status(status) if status is not None else None

    async def lock_due(self, now: datetime, limit: int) -> Sequence[Notification]:
        return await self._locked(due_query(now), limit)

    async def next_due(self) -> datetime | None:
        # The first entry of the partial index notifications_due.
        pending = notifications.c.status == Status.PENDING.value
        nearest: datetime | None = await self._session.scalar(
            select(func.min(notifications.c.next_attempt_at)).where(pending)
        )
        return nearest

    async def lock_stuck(self, claimed_before: datetime, limit: int) -> Sequence[Notification]:
        return await self._locked(stuck_query(claimed_before), limit)

    async def lock_claimed(self, claim_id: UUID) -> Sequence[Notification]:
        # The few rows `sending` are read through their partial index, then filtered.
        statement = select(notifications).where(
            notifications.c.status == Status.SENDING.value, notifications.c.claim_id == claim_id
        )
        rows = (await self._session.execute(statement.with_for_update())).mappings()
        return [from_row(row) for row in rows]

    async def _locked(self, statement: Select[Any], limit: int) -> list[Notification]:
        locked = locking(statement, limit)
        return [from_row(row) for row in (await self._session.execute(locked)).mappings()]
