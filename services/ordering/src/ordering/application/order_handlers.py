"""Command handlers: place an order, move it through its saga, and scan for deadlines.

Each handler reads the saga and then its order, lets the saga's table decide, and writes the saga
(optimistically: a concurrent change raises ``ConcurrencyConflict``), the order and a history entry, tracks
the order's events and sends the saga's commands to the catalog, all in the caller's unit of work. The
caller commits it; only the deadline scanner opens (and so commits) its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from ordering.application.commands import Actor, PlaceOrder
from ordering.application.errors import ConcurrencyConflict, OrderNotFound
from ordering.application.ports import Cause, OrderingUow
from ordering.domain import triggers
from ordering.domain.order import Order
from ordering.domain.saga import Saga, SagaPolicy, Step

log = logging.getLogger(__name__)

DEADLINE_CAUSE = Cause("deadline")
# Fresh reads a reply gets after losing an optimistic race, before the consumer's own retry takes over.
REREADS = 3


def utcnow() -> datetime:
    return datetime.now(UTC)


async def place_order(command: PlaceOrder, uow: OrderingUow, *, now: datetime | None = None) -> Order:
    """Write the pending order and its saga; OrderPlaced and ReserveStock leave through the outbox."""
    at = now or utcnow()
    order = Order.place(
        order_id=command.order_id,
        customer_id=command.customer_id,
        customer_email=command.customer_email,
        lines=command.lines,
        at=at,
    )
    saga = Saga.start(order, uow.policy, at)
    await uow.orders.add(order)
    await uow.sagas.add(saga)
    await uow.history.record(
        order,
        saga,
        change="placed",
        detail=f"{order.item_count} item(s)",
        cause=Cause("http", command.customer_id),
        at=at,
    )
    _publish(uow, order, saga)
    return order


async def cancel_order(
    order_id: UUID, actor: Actor, uow: OrderingUow, *, now: datetime | None = None
) -> Step:
    order, saga = await _load(uow, order_id, actor)
    order.check_may_cancel(actor.subject, is_admin=actor.is_admin)
    return await _drive(uow, order, saga, triggers.CustomerCancel(by=actor.subject), _request(actor), now)


async def complete_order(
    order_id: UUID, actor: Actor, uow: OrderingUow, *, now: datetime | None = None
) -> Step:
    order, saga = await _load(uow, order_id, actor)
    order.check_may_complete(actor.subject, is_admin=actor.is_admin)
    return await _drive(uow, order, saga, triggers.AdminComplete(by=actor.subject), _request(actor), now)


async def handle_reply(
    order_id: UUID, reply: triggers.Reply, cause: Cause, uow: OrderingUow, *, now: datetime | None = None
) -> Step | None:
    """Feed the catalog's answer to the order's saga; None when the order is unknown here.

    A lost race (the scanner or another reply moved the saga meanwhile) is decided again on a fresh read
    within the same transaction, which the lost save left untouched; after ``REREADS`` such losses the
    ``ConcurrencyConflict`` goes up, and the consumer retries the message later.
    """
    for attempt in range(REREADS + 1):
        saga, order = await _read(uow, order_id)
        if order is None or saga is None:
            # Not ours: our replies are caused by commands we sent after committing the order.
            log.warning("%s for unknown order %s ignored", cause.type, order_id)
            return None
        try:
            return await _drive(uow, order, saga, reply, cause, now)
        except ConcurrencyConflict:
            if attempt == REREADS:
                raise
            log.info("%s for order %s lost a race; deciding again", cause.type, order_id)
    raise AssertionError("unreachable")


async def scan_due_sagas(
    uow_factory: Callable[[], OrderingUow], now: datetime | None = None, batch: int = 100
) -> int:
    """Handle the deadline of up to ``batch`` due sagas in one transaction; returns how many.

    Due sagas are locked ``FOR UPDATE SKIP LOCKED``: two scanners share the work and never take the same
    saga, and a reply handled meanwhile loses its optimistic race and is retried against the new state.
    Each saga is told when its last request left the outbox (one lookup by message id for the batch).
    A saga whose deadline cannot be decided (a bug) is postponed by one first deadline and logged, so that
    it never blocks the deadlines queued behind it.
    """
    at = now or utcnow()
    async with uow_factory() as uow:
        due = await uow.sagas.lock_due(at, batch)
        published = await uow.sagas.requests_published_at([s.request_id for s in due if s.request_id])
        for saga in due:
            order = await uow.orders.get(saga.order_id)
            if order is None:  # pragma: no cover - the foreign key makes this impossible
                continue
            trigger = triggers.DeadlineReached(_published_at(saga, published, uow.policy, at))
            try:
                step = saga.handle(trigger, order, uow.policy, at)
            except Exception:
                log.exception("deadline of order %s cannot be handled; postponed", saga.order_id)
                await uow.sagas.postpone(saga.order_id, at + uow.policy.first_deadline)
                continue
            await _write(uow, order, saga, step, DEADLINE_CAUSE, at)
        await uow.commit()
    return len(due)


async def seconds_to_next_deadline(
    uow_factory: Callable[[], OrderingUow], *, longest: float, now: datetime | None = None
) -> float:
    """How long the scanner may sleep: until the nearest deadline, at most ``longest``; 0 when one is due.

    Read-only (nothing is committed). A deadline set nearer meanwhile, by a saga started after this read,
    is therefore seen at most ``longest`` late.
    """
    async with uow_factory() as uow:
        nearest = await uow.sagas.next_deadline()
    if nearest is None:
        return longest
    return min(longest, max(0.0, (nearest - (now or utcnow())).total_seconds()))


def _published_at(
    saga: Saga, published: dict[UUID, datetime | None], policy: SagaPolicy, at: datetime
) -> datetime | None:
    """When the saga's last request left the outbox; None while it is still there.

    A request no longer in the outbox was published and pruned long ago (or predates request ids):
    counted as published one full interval before this scan, so that it is resent now.
    """
    if saga.request_id is not None and saga.request_id in published:
        return published[saga.request_id]
    return at - policy.interval(saga.attempts)


async def _load(uow: OrderingUow, order_id: UUID, actor: Actor) -> tuple[Order, Saga]:
    saga, order = await _read(uow, order_id)
    # Someone else's order does not exist as far as a customer can tell.
    if order is None or saga is None or not order.is_visible_to(actor.subject, is_admin=actor.is_admin):
        raise OrderNotFound(order_id)
    return order, saga


async def _read(uow: OrderingUow, order_id: UUID) -> tuple[Saga | None, Order | None]:
    """The saga and its order, read together: one statement, so one snapshot (READ COMMITTED).

    Any change committed after that snapshot bumped the saga's version, so the save of a decision taken on
    this order fails, never writing back a stale order.
    """
    found = await uow.sagas.get_with_order(order_id)
    return found if found is not None else (None, None)


def _request(actor: Actor) -> Cause:
    return Cause("http", actor.subject)


async def _drive(
    uow: OrderingUow, order: Order, saga: Saga, trigger: triggers.Trigger, cause: Cause, now: datetime | None
) -> Step:
    at = now or utcnow()
    step = saga.handle(trigger, order, uow.policy, at)
    await _write(uow, order, saga, step, cause, at)
    return step


async def _write(uow: OrderingUow, order: Order, saga: Saga, step: Step, cause: Cause, at: datetime) -> None:
    if step.applied:
        # The saga first: losing the race there leaves nothing else written.
        await uow.sagas.save(saga)
        await uow.orders.save(order)
    await uow.history.record(order, saga, change=step.change, detail=step.detail, cause=cause, at=at)
    _publish(uow, order, saga)


def _publish(uow: OrderingUow, order: Order, saga: Saga) -> None:
    """The order's events, then what the saga asks of the catalog, leave through the outbox on commit."""
    uow.track(order)
    for command in saga.take_commands():
        uow.send(command)
