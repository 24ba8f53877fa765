"""Stock reservations and their lines; a rejected reservation keeps its reasons as JSON."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.adapters.tables import stock_reservation_lines, stock_reservations
from catalog.domain.events import Rejection, ReservedLine
from catalog.domain.money import Money
from catalog.domain.reservation import ReservationStatus, StockReservation


def _rejection_to_json(rejection: Rejection) -> dict[str, Any]:
    return {
        "book_id": str(rejection.book_id),
        "reason": rejection.reason,
        "requested": rejection.requested,
        "available": rejection.available,
    }


def _rejection_from_json(data: dict[str, Any]) -> Rejection:
    return Rejection(UUID(data["book_id"]), data["reason"], int(data["requested"]), int(data["available"]))


class SqlReservations:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_order(self, order_id: UUID) -> None:
        # An advisory lock, not FOR UPDATE: it also holds an order with no reservation row yet, which two
        # commands would otherwise both insert (UniqueViolation on pk_stock_reservations).
        key = func.hashtextextended(str(order_id), 0)
        await self._session.execute(select(func.pg_advisory_xact_lock(key)))

    async def get(self, order_id: UUID, *, for_update: bool = False) -> StockReservation | None:
        statement = select(stock_reservations).where(stock_reservations.c.order_id == order_id)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._session.execute(statement)).first()
        if row is None:
            return None
        lines = await self._session.execute(
            select(stock_reservation_lines)
            .where(stock_reservation_lines.c.order_id == order_id)
            .order_by(stock_reservation_lines.c.position)
        )
        return StockReservation(
            order_id=row.order_id,
            status=ReservationStatus(row.status),
            lines=tuple(
                ReservedLine(
                    line.book_id, line.quantity, Money(line.unit_price_amount, line.unit_price_currency)
                )
                for line in lines
            ),
            rejections=tuple(_rejection_from_json(item) for item in row.rejections),
            created_at=row.created_at,
            released_at=row.released_at,
        )

    async def add(self, reservation: StockReservation) -> None:
        await self._session.execute(
            insert(stock_reservations).values(
                order_id=reservation.order_id,
                status=reservation.status.value,
                rejections=[_rejection_to_json(rejection) for rejection in reservation.rejections],
                created_at=reservation.created_at,
                released_at=reservation.released_at,
            )
        )
        if reservation.lines:
            await self._session.execute(
                insert(stock_reservation_lines),
                [
                    {
                        "order_id": reservation.order_id,
                        "book_id": line.book_id,
                        "position": position,
                        "quantity": line.quantity,
                        "unit_price_amount": line.unit_price.amount,
                        "unit_price_currency": line.unit_price.currency,
                    }
                    for position, line in enumerate(reservation.lines)
                ],
            )

    async def save(self, reservation: StockReservation) -> None:
        """Only the status moves once a reservation exists (held to released)."""
        await self._session.execute(
            update(stock_reservations)
            .where(stock_reservations.c.order_id == reservation.order_id)
            .values(status=reservation.status.value, released_at=reservation.released_at)
        )
