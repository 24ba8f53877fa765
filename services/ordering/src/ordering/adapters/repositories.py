"""Repositories on SQLAlchemy Core: rows in, aggregates out, and back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Row, Select, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chassis import outbox
from ordering.adapters.tables import ACTIVE_STATES, order_history, order_lines, orders, sagas
from ordering.application.errors import ConcurrencyConflict
from ordering.application.ports import Cause
from ordering.application.views import HistoryEntry
from ordering.domain.lines import OrderLine, PricedLine
from ordering.domain.money import Money
from ordering.domain.order import Order, OrderStatus
from ordering.domain.saga import Saga, SagaState


class SqlOrders:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, order: Order) -> None:
        await self.session.execute(insert(orders).values(**_order_columns(order), id=order.id))
        await self.session.execute(
            insert(order_lines),
            [
                {"order_id": order.id, "book_id": line.book_id, "position": i, "quantity": line.quantity}
                for i, line in enumerate(order.lines)
            ],
        )

    async def get(self, order_id: UUID) -> Order | None:
        row = (await self.session.execute(select(orders).where(orders.c.id == order_id))).first()
        if row is None:
            return None
        lines = (
            await self.session.execute(
                select(order_lines).where(order_lines.c.order_id == order_id).order_by(order_lines.c.position)
            )
        ).all()
        return _order(row, lines)

    async def save(self, order: Order) -> None:
        await self.session.execute(
            update(orders).where(orders.c.id == order.id).values(**_order_columns(order))
        )
        for line in order.priced_lines:
            await self.session.execute(
                update(order_lines)
                .where(order_lines.c.order_id == order.id, order_lines.c.book_id == line.book_id)
                .values(unit_price=line.unit_price.amount, currency=line.unit_price.currency)
            )


def _order_columns(order: Order) -> dict[str, object]:
    return {
        "customer_id": order.customer_id,
        "customer_email": order.customer_email,
        "status": order.status.value,
        "total_amount": order.total.amount if order.total else None,
        "currency": order.total.currency if order.total else None,
        "reason": order.reason,
        "placed_at": order.placed_at,
        "updated_at": order.updated_at,
    }


def _order(row: Row[tuple[object, ...]], lines: Sequence[Row[tuple[object, ...]]]) -> Order:
    m = row._mapping
    priced = tuple(
        PricedLine(line.book_id, line.quantity, Money(Decimal(line.unit_price), line.currency))
        for line in lines
        if line.unit_price is not None
    )
    total = Money(Decimal(m["total_amount"]), m["currency"]) if m["total_amount"] is not None else None
    return Order(
        id=m["id"],
        customer_id=m["customer_id"],
        customer_email=m["customer_email"],
        lines=tuple(OrderLine(line.book_id, line.quantity) for line in lines),
        status=OrderStatus(m["status"]),
        placed_at=m["placed_at"],
        updated_at=m["updated_at"],
        priced_lines=priced,
        total=total,
        reason=m["reason"],
    )


class SqlSagas:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, saga: Saga) -> None:
        saga.version = 1
        await self.session.execute(insert(sagas).values(order_id=saga.order_id, **_saga_columns(saga)))

    async def get(self, order_id: UUID) -> Saga | None:
        row = (await self.session.execute(select(sagas).where(sagas.c.order_id == order_id))).first()
        return None if row is None else _saga(row)

    async def save(self, saga: Saga) -> None:
        seen = saga.version
        saga.version = seen + 1
        result = await self.session.execute(
            update(sagas)
            .where(sagas.c.order_id == saga.order_id, sagas.c.version == seen)
            .values(**_saga_columns(saga))
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            saga.version = seen
            raise ConcurrencyConflict(saga.order_id, seen)

    async def postpone(self, order_id: UUID, until: datetime) -> None:
        await self.session.execute(
            update(sagas)
            .where(sagas.c.order_id == order_id)
            .values(deadline_at=until, version=sagas.c.version + 1, updated_at=_now())
        )

    async def requests_published_at(self, request_ids: Sequence[UUID]) -> dict[UUID, datetime | None]:
        """When each request still in the outbox was published (None: not yet); pruned ones are absent."""
        if not request_ids:
            return {}
        rows = await self.session.execute(
            select(outbox.c.message_id, outbox.c.published_at).where(outbox.c.message_id.in_(request_ids))
        )
        return {row.message_id: row.published_at for row in rows}

    async def count_by_state(self) -> dict[str, int]:
        """How many sagas are in each state not yet finished, from ``order_sagas_active`` (for metrics).

        Every such state is present, with 0 where there is none; terminal states are history, and counting
        them would read the whole table.
        """
        rows = await self.session.execute(active_counts())
        return {state: 0 for state in ACTIVE_STATES} | {state: count for state, count in rows}

    async def oldest_waiting_since(self) -> datetime | None:
        """When the longest wait on the catalog began, among sagas waiting now (served by the due index)."""
        oldest: datetime | None = await self.session.scalar(
            select(func.min(sagas.c.waiting_since)).where(sagas.c.deadline_at.is_not(None))
        )
        return oldest

    async def lock_due(self, now: datetime, limit: int) -> Sequence[Saga]:
        return [_saga(row) for row in await self.session.execute(due_sagas(now, limit))]

    async def next_deadline(self) -> datetime | None:
        # The first entry of the due index: one cheap read, so an idle scanner commits nothing.
        nearest: datetime | None = await self.session.scalar(select(func.min(sagas.c.deadline_at)))
        return nearest


def active_counts() -> Select[Any]:
    return select(sagas.c.state, func.count()).where(sagas.c.state.in_(ACTIVE_STATES)).group_by(sagas.c.state)


def due_sagas(now: datetime, limit: int) -> Select[Any]:
    """The deadline scan; ``order_sagas_due`` (partial, on deadline_at) holds exactly the sagas it reads."""
    return (
        select(sagas)
        .where(sagas.c.deadline_at.is_not(None), sagas.c.deadline_at <= now)
        .order_by(sagas.c.deadline_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def _saga_columns(saga: Saga) -> dict[str, object]:
    return {
        "state": saga.state.value,
        "version": saga.version,
        "attempts": saga.attempts,
        "deadline_at": saga.deadline_at,
        "updated_at": _now(),
        "request_id": saga.request_id,
        "sent_at": saga.sent_at,
        "waiting_since": saga.waiting_since,
    }


def _now() -> datetime:
    return datetime.now(UTC)


def _saga(row: Row[tuple[object, ...]]) -> Saga:
    m = row._mapping
    return Saga(
        order_id=m["order_id"],
        state=SagaState(m["state"]),
        attempts=m["attempts"],
        deadline_at=m["deadline_at"],
        version=m["version"],
        request_id=m["request_id"],
        sent_at=m["sent_at"],
        waiting_since=m["waiting_since"],
    )


class SqlHistory:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self, order: Order, saga: Saga, *, change: str, detail: str, cause: Cause, at: datetime
    ) -> None:
        await self.session.execute(
            insert(order_history).values(
                order_id=order.id,
                at=at,
                change=change,
                detail=detail,
                status=order.status.value,
                saga_state=saga.state.value,
                cause_type=cause.type,
                cause_id=cause.id,
            )
        )

    async def timeline(self, order_id: UUID) -> Sequence[HistoryEntry]:
        rows = await self.session.execute(
            select(order_history).where(order_history.c.order_id == order_id).order_by(order_history.c.id)
        )
        return [
            HistoryEntry(
                at=row.at,
                change=row.change,
                detail=row.detail,
                status=row.status,
                saga_state=row.saga_state,
                cause_type=row.cause_type,
                cause_id=row.cause_id,
            )
            for row in rows
        ]
