"""``/api/v1/orders``: place, read, list, cancel and complete orders.

A customer acts as themselves (id and e-mail from the access token); an admin sees every order and
completes them. The catalog answers asynchronously, so placing and cancelling answer 202 with a Location.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from chassis import (
    AdminCaller,
    Caller,
    CurrentCaller,
    Page,
    Pagination,
    conflict,
    idempotency_key_header,
    idempotent,
    validation_problem,
)
from contracts.envelope import new_id
from ordering.adapters.unit_of_work import OrderingUnitOfWork
from ordering.application import commands, order_handlers, queries
from ordering.application.errors import ConcurrencyConflict
from ordering.entrypoints.admission import OrderAdmission
from ordering.entrypoints.dependencies import Uow, UowFactory, Uows
from ordering.entrypoints.problems import as_problems
from ordering.entrypoints.schemas import (
    HistoryEntryOut,
    OrderAccepted,
    OrderOut,
    OrderSummaryOut,
    PlaceOrderIn,
    TimelineOut,
)

PREFIX = "/api/v1/orders"
_STATE_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The order's state does not allow this, or it changed meanwhile"}
}
# A lost optimistic race on the saga (a catalog reply landed meanwhile) is retried on a fresh read.
CONFLICT_RETRIES = 3

T = TypeVar("T")


def _actor(caller: Caller) -> commands.Actor:
    return commands.Actor(caller.subject, is_admin=caller.is_admin)


def location(order_id: UUID) -> str:
    return f"{PREFIX}/{order_id}"


async def _retrying(uows: UowFactory, attempt: Callable[[OrderingUnitOfWork], Awaitable[T]]) -> T:
    for remaining in reversed(range(CONFLICT_RETRIES)):
        try:
            async with uows() as uow:
                result = await attempt(uow)
                await uow.commit()
                return result
        except ConcurrencyConflict:
            if not remaining:
                raise conflict("The order changed while this request ran; try again.") from None
    raise AssertionError("unreachable")


def orders_router(admission: OrderAdmission) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["orders"])

    @router.post(
        "",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=OrderAccepted,
        dependencies=[Depends(idempotency_key_header)],
        responses={202: {"headers": {"Location": {"description": "The order, to poll for its outcome"}}}},
    )
    async def place_order(body: PlaceOrderIn, request: Request, caller: CurrentCaller, uow: Uow) -> Response:
        """Place an order as the calling customer; the catalog's answer follows asynchronously."""
        if not caller.email:
            raise validation_problem(
                [
                    {
                        "location": "token",
                        "field": "email",
                        "message": "the access token carries no e-mail address to confirm the order to",
                        "type": "missing",
                    }
                ]
            )
        command = commands.PlaceOrder(
            order_id=new_id(),
            customer_id=caller.subject,
            customer_email=caller.email,
            lines=body.domain_lines(),
        )
        with as_problems():
            async with uow, idempotent(request, caller, uow) as slot:
                if slot.replay is not None:
                    return slot.replay
                # After the replay: an order placed already is answered as placed, however far behind.
                await admission.check(uow)
                order = await order_handlers.place_order(command, uow)
                accepted = OrderAccepted(id=order.id, status=order.status.value)
                response = await slot.respond(202, accepted, headers={"Location": location(order.id)})
                await uow.commit()
                admission.admitted()
                return response

    @router.get("", response_model=Page[OrderSummaryOut])
    async def list_orders(
        caller: CurrentCaller,
        paging: Pagination,
        uow: Uow,
        customer_id: Annotated[
            str | None, Query(description="Whose orders; a customer may only ask for their own")
        ] = None,
    ) -> Page[OrderSummaryOut]:
        """Order summaries, newest first: status, total, item count and last change."""
        with as_problems():
            async with uow:
                items, total = await queries.order_summaries(
                    customer_id, _actor(caller), uow, offset=paging.offset, limit=paging.limit
                )
        return Page.of([OrderSummaryOut.of(item) for item in items], total=total, params=paging)

    @router.get("/{order_id}", response_model=OrderOut)
    async def get_order(order_id: UUID, caller: CurrentCaller, uow: Uow) -> OrderOut:
        with as_problems():
            async with uow:
                return OrderOut.of(await queries.order_details(order_id, _actor(caller), uow))

    @router.get("/{order_id}/history", response_model=TimelineOut)
    async def get_history(order_id: UUID, caller: CurrentCaller, uow: Uow) -> TimelineOut:
        """Every change of the order, oldest first, each with what caused it."""
        with as_problems():
            async with uow:
                entries = await queries.order_timeline(order_id, _actor(caller), uow)
        return TimelineOut(order_id=order_id, entries=[HistoryEntryOut.of(e) for e in entries])

    @router.post(
        "/{order_id}/cancel",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=OrderOut,
        responses=_STATE_CONFLICT,
    )
    async def cancel_order(order_id: UUID, caller: CurrentCaller, uows: Uows, response: Response) -> OrderOut:
        """Cancel an order: at once when no stock is held, else once the catalog released it (poll)."""
        actor = _actor(caller)

        async def cancel(uow: OrderingUnitOfWork) -> OrderOut:
            await order_handlers.cancel_order(order_id, actor, uow)
            return OrderOut.of(await queries.order_details(order_id, actor, uow))

        with as_problems():
            order = await _retrying(uows, cancel)
        response.headers["Location"] = location(order_id)
        return order

    @router.post("/{order_id}/complete", response_model=OrderOut, responses=_STATE_CONFLICT)
    async def complete_order(order_id: UUID, caller: AdminCaller, uows: Uows) -> OrderOut:
        """Mark a confirmed order fulfilled (admin only)."""
        actor = _actor(caller)

        async def complete(uow: OrderingUnitOfWork) -> OrderOut:
            await order_handlers.complete_order(order_id, actor, uow)
            return OrderOut.of(await queries.order_details(order_id, actor, uow))

        with as_problems():
            return await _retrying(uows, complete)

    return router
