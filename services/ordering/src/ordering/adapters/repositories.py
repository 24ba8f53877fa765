"""Repositories on SQLAlchemy Core: rows in, aggregates out, and back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    LABEL_STYLE_TABLENAME_PLUS_COL,
    RowMapping,
    Select,
    bindparam,
    func,
    insert,
    select,
    update,
)
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

# Every statement of the order's path, built once; parameters are bound at execution.
_ADD_ORDER = insert(orders)
_ADD_LINES = insert(order_lines)
_GET_ORDER = select(orders).where(orders.c.id == bindparam("order_key"))
_LINES_OF = (
    select(order_lines)
    .where(order_lines.c.order_id == bindparam("order_key"))
    .order_by(order_lines.c.position)
)
# The columns to set come with the parameters (_order_changes).
_SAVE_ORDER = update(orders).where(orders.c.id == bindparam("order_key"))
_PRICE_LINE = (
    update(order_lines)
    .where(order_lines.c.order_id == bindparam("order_key"), order_lines.c.book_id == bindparam("line_book"))
    .values(unit_price=bindparam("line_price"), currency=bindparam("line_currency"))
)
_ADD_SAGA = insert(sagas)
_GET_SAGA = select(sagas).where(sagas.c.order_id == bindparam("order_key"))
# Optimistic: written only if nobody did since it was read at ``seen_version``.
_SAVE_SAGA = update(sagas).where(
    sagas.c.order_id == bindparam("order_key"), sagas.c.version == bindparam("seen_version")
)
# The saga, its order and the order's lines (one row per line): one statement, so one snapshot.
_SAGA_WITH_ORDER = (
    select(sagas, orders, order_lines)
    .join(orders, orders.c.id == sagas.c.order_id)
    .join(order_lines, order_lines.c.order_id == orders.c.id)
    .where(sagas.c.order_id == bindparam("order_key"))
    .order_by(order_lines.c.position)
    .set_label_style(LABEL_STYLE_TABLENAME_PLUS_COL)
)


class SqlOrders:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # The prices each order had when read or added: saving writes the lines only when they changed.
        self._priced: dict[UUID, tuple[PricedLine, ...]] = {}

    async def add(self, order: Order) -> None:
        await self.session.execute(_ADD_ORDER, {**_order_columns(order), "id": order.id})
        await self.session.execute(
            _ADD_LINES,
            [
                {"order_id": order.id, "book_id": line.book_id, "position": i, "quantity": line.quantity}
                for i, line in enumerate(order.lines)
            ],
        )
        self._priced[order.id] = order.priced_lines

    async def get(self, order_id: UUID) -> Order | None:
        row = (await self.session.execute(_GET_ORDER, {"order_key": order_id})).first()
        if row is None:
            return None
        lines = (await self.session.execute(_LINES_OF, {"order_key": order_id})).all()
        return self.loaded(_order(row._mapping, [line._mapping for line in lines]))

    def loaded(self, order: Order) -> Order:
        """Remember ``order`` as read (SqlSagas.get_with_order reads it too)."""
        self._priced[order.id] = order.priced_lines
        return order

    async def save(self, order: Order) -> None:
        await self.session.execute(_SAVE_ORDER, {**_order_changes(order), "order_key": order.id})
        if order.priced_lines and order.priced_lines != self._priced.get(order.id):
            await self.session.execute(
                _PRICE_LINE,
                [
                    {
                        "order_key": order.id,
                        "line_book": line.book_id,
                        "line_price": line.unit_price.amount,
                        "line_currency": line.unit_price.currency,
                    }
                    for line in order.priced_lines
                ],
            )
        self._priced[order.id] = order.priced_lines


def _order_columns(order: Order) -> dict[str, object]:
    return {
        "customer_id": order.customer_id,
        "customer_email": order.customer_email,
        "placed_at": order.placed_at,
        **_order_changes(order),
    }


def _order_changes(order: Order) -> dict[str, object]:
    """What may change once an order is placed."""
    return {
        "status": order.status.value,
        "total_amount": order.total.amount if order.total else None,
        "currency": order.total.currency if order.total else None,
        "reason": order.reason,
        "updated_at": order.updated_at,
    }


def _order(m: RowMapping, lines: Sequence[RowMapping]) -> Order:
    """An order from its row and its lines' rows, keyed by column (plain or joined, labels differ)."""
    priced = tuple(
        PricedLine(
            line[order_lines.c.book_id],
            line[order_lines.c.quantity],
            Money(Decimal(line[order_lines.c.unit_price]), line[order_lines.c.currency]),
        )
        for line in lines
        if line[order_lines.c.unit_price] is not None
    )
    total_amount = m[orders.c.total_amount]
    total = Money(Decimal(total_amount), m[orders.c.currency]) if total_amount is not None else None
    return Order(
        id=m[orders.c.id],
        customer_id=m[orders.c.customer_id],
        customer_email=m[orders.c.customer_email],
        lines=tuple(OrderLine(line[order_lines.c.book_id], line[order_lines.c.quantity]) for line in lines),
        status=OrderStatus(m[orders.c.status]),
        placed_at=m[orders.c.placed_at],
        updated_at=m[orders.c.updated_at],
        priced_lines=priced,
        total=total,
        reason=m[orders.c.reason],
    )


class SqlSagas:
    def __init__(self, session: AsyncSession, orders: SqlOrders) -> None:
        self.session = session
        self._orders = orders

    async def add(self, saga: Saga) -> None:
        saga.version = 1
        await self.session.execute(_ADD_SAGA, {"order_id": saga.order_id, **_saga_columns(saga)})

    async def get(self, order_id: UUID) -> Saga | None:
        row = (await self.session.execute(_GET_SAGA, {"order_key": order_id})).first()
        return None if row is None else _saga(row._mapping)

    async def get_with_order(self, order_id: UUID) -> tuple[Saga, Order] | None:
        rows = [row._mapping for row in await self.session.execute(_SAGA_WITH_ORDER, {"order_key": order_id})]
        if not rows:
            return None
        return _saga(rows[0]), self._orders.loaded(_order(rows[0], rows))

    async def save(self, saga: Saga) -> None:
        seen = saga.version
        saga.version = seen + 1
        result = await self.session.execute(
            _SAVE_SAGA, {**_saga_columns(saga), "order_key": saga.order_id, "seen_version": seen}
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
        return [_saga(row._mapping) for row in await self.session.execute(due_sagas(now, limit))]

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


def _saga(m: RowMapping) -> Saga:
    return Saga(
        order_id=m[sagas.c.order_id],
        state=SagaState(m[sagas.c.state]),
        attempts=m[sagas.c.attempts],
        deadline_at=m[sagas.c.deadline_at],
        version=m[sagas.c.version],
        request_id=m[sagas.c.request_id],
        sent_at=m[sagas.c.sent_at],
        waiting_since=m[sagas.c.waiting_since],
    )


_RECORD = insert(order_history)


class SqlHistory:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self, order: Order, saga: Saga, *, change: str, detail: str, cause: Cause, at: datetime
    ) -> None:
        await self.session.execute(
            _RECORD,
            {
                "order_id": order.id,
                "at": at,
                "change": change,
                "detail": detail,
                "status": order.status.value,
                "saga_state": saga.state.value,
                "cause_type": cause.type,
                "cause_id": cause.id,
            },
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
