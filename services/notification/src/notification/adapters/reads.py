"""The notification list as readers see it: newest first, filtered by customer and/or order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notification.adapters.tables import notifications
from notification.application.views import NotificationView

_t = notifications.c


class SqlReads:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def notifications(
        self, *, customer_id: str | None, order_id: UUID | None, offset: int, limit: int
    ) -> tuple[Sequence[NotificationView], int]:
        conditions: list[Any] = []
        if customer_id is not None:
            conditions.append(_t.customer_id == customer_id)
        if order_id is not None:
            conditions.append(_t.order_id == order_id)
        total = await self._session.scalar(select(func.count()).select_from(notifications).where(*conditions))
        page = (
            select(
                _t.id,
                _t.order_id,
                _t.customer_id,
                _t.recipient,
                _t.template,
                _t.subject,
                _t.status,
                _t.attempts,
                _t.source_type,
                _t.source_message_id,
                _t.created_at,
                _t.sent_at,
                _t.last_error,
            )
            .where(*conditions)
            .order_by(_t.created_at.desc(), _t.id.desc())
            .offset(offset)
            .limit(limit)
        )
        rows = (await self._session.execute(page)).mappings()
        return [NotificationView(**row) for row in rows], int(total or 0)
