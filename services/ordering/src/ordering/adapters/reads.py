"""The read side: an order's details and the per-customer summaries view, shaped for the reader."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ordering.adapters.tables import order_lines, order_summaries, orders, sagas
from ordering.application.views import LineView, OrderDetails, OrderSummary
from ordering.domain.saga import SagaState


class SqlReads:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def order_details(self, order_id: UUID) -> OrderDetails | None:
        row = (
            await self.session.execute(
                select(orders, sagas.c.state.label("saga_state"))
                .join(sagas, sagas.c.order_id == orders.c.id)
                .where(orders.c.id == order_id)
            )
        ).first()
        if row is None:
            return None
        lines = await self.session.execute(
            select(order_lines).where(order_lines.c.order_id == order_id).order_by(order_lines.c.position)
        )
        return OrderDetails(
            id=row.id,
            customer_id=row.customer_id,
            customer_email=row.customer_email,
            status=row.status,
            lines=tuple(LineView(x.book_id, x.quantity, x.unit_price, x.currency) for x in lines),
            total_amount=row.total_amount,
            currency=row.currency,
            reason=row.reason,
            cancel_requested=row.saga_state == SagaState.CANCEL_REQUESTED.value,
            placed_at=row.placed_at,
            updated_at=row.updated_at,
        )

    async def summaries(
        self, *, customer_id: str | None, offset: int, limit: int
    ) -> tuple[Sequence[OrderSummary], int]:
        view = order_summaries
        where = [] if customer_id is None else [view.c.customer_id == customer_id]
        total = await self.session.scalar(select(func.count()).select_from(view).where(*where))
        rows = await self.session.execute(
            select(view)
            .where(*where)
            .order_by(view.c.placed_at.desc(), view.c.order_id)
            .offset(offset)
            .limit(limit)
        )
        items = [
            OrderSummary(
                id=row.order_id,
                customer_id=row.customer_id,
                status=row.status,
                total_amount=row.total_amount,
                currency=row.currency,
                item_count=int(row.item_count),
                placed_at=row.placed_at,
                last_change_at=row.last_change_at,
            )
            for row in rows
        ]
        return items, int(total or 0)

    async def orders_awaiting_stock(self) -> int:
        # The partial index order_sagas_active holds these states: an index-only count.
        awaiting = (SagaState.AWAITING_STOCK.value, SagaState.CANCEL_REQUESTED.value)
        count = await self.session.scalar(
            select(func.count()).select_from(sagas).where(sagas.c.state.in_(awaiting))
        )
        return int(count or 0)
