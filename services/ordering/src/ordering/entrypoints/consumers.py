"""The catalog's replies, each on its own queue ``ordering.<handler>``, fed to the order's saga."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chassis import Subscription
from contracts.catalog import StockReleased, StockReservationRejected, StockReserved
from ordering.adapters import message_mapping as mapping
from ordering.adapters.unit_of_work import OrderingUnitOfWork
from ordering.application.order_handlers import handle_reply
from ordering.application.ports import Cause


def _cause(uow: OrderingUnitOfWork) -> Cause:
    cause = uow.cause
    return Cause(cause.type, str(cause.id)) if cause else Cause("message")


async def on_stock_reserved(message: StockReserved, uow: OrderingUnitOfWork) -> None:
    await handle_reply(message.order_id, mapping.stock_reserved(message), _cause(uow), uow)


async def on_stock_reservation_rejected(message: StockReservationRejected, uow: OrderingUnitOfWork) -> None:
    await handle_reply(message.order_id, mapping.stock_rejected(message), _cause(uow), uow)


async def on_stock_released(message: StockReleased, uow: OrderingUnitOfWork) -> None:
    await handle_reply(message.order_id, mapping.stock_released(message), _cause(uow), uow)


def subscriptions() -> Sequence[Subscription[Any]]:
    return (
        Subscription("stock_reserved", (StockReserved,), on_stock_reserved),
        Subscription(
            "stock_reservation_rejected", (StockReservationRejected,), on_stock_reservation_rejected
        ),
        Subscription("stock_released", (StockReleased,), on_stock_released),
    )
