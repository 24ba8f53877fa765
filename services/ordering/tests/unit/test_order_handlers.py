"""The command handlers on an in-memory unit of work: what they write, and how a lost race is retried."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace, TracebackType
from typing import Any, Self
from uuid import UUID, uuid4

import pytest

from ordering.application import commands, order_handlers
from ordering.application.errors import ConcurrencyConflict, OrderNotFound
from ordering.application.ports import Cause
from ordering.application.views import HistoryEntry, OrderDetails, OrderSummary
from ordering.domain import events, stock_commands, triggers
from ordering.domain.errors import NotPermitted
from ordering.domain.lines import OrderLine, PricedLine
from ordering.domain.money import Money
from ordering.domain.order import Order
from ordering.domain.saga import Saga, SagaPolicy
from ordering.entrypoints.deadlines import run_deadline_scanner
from testkit.polling import eventually

NOW = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = SagaPolicy(
    first_deadline=timedelta(seconds=5),
    max_deadline=timedelta(seconds=20),
    give_up_after=timedelta(minutes=1),
    jitter=0,
)


def stored(aggregate: Any) -> Any:
    """A copy as a database would keep it: state, not the events raised or commands decided on the way."""
    kept = copy.deepcopy(aggregate)
    if isinstance(kept, Saga):
        kept.commands = []
    else:
        kept.events = []
    return kept


@dataclass
class Store:
    orders: dict[UUID, Order] = field(default_factory=dict)
    sagas: dict[UUID, Saga] = field(default_factory=dict)
    history: list[tuple[UUID, str, Cause]] = field(default_factory=list)
    sent: list[Any] = field(default_factory=list)
    # The outbox as the scanner sees it: request id -> published at (None: not yet); absent: pruned.
    outbox: dict[UUID, datetime | None] = field(default_factory=dict)
    # Saves to fail with a conflict, as if someone else had just moved the saga.
    conflicts: int = 0


class FakeUow:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.policy = POLICY
        self.orders = self
        self.sagas = FakeSagas(store)
        self.history = self
        self.reads = self
        self._tracked: list[Any] = []
        self._sent: list[Any] = []
        self.commits = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._tracked, self._sent = [], []

    # Orders
    async def add(self, order: Order) -> None:
        self.store.orders[order.id] = stored(order)

    async def get(self, order_id: UUID) -> Order | None:
        order = self.store.orders.get(order_id)
        return copy.deepcopy(order) if order else None

    async def save(self, order: Order) -> None:
        self.store.orders[order.id] = stored(order)

    # History
    async def record(
        self, order: Order, saga: Saga, *, change: str, detail: str, cause: Cause, at: datetime
    ) -> None:
        self.store.history.append((order.id, change, cause))

    async def timeline(self, order_id: UUID) -> Sequence[HistoryEntry]:
        raise NotImplementedError

    # Reads
    async def order_details(self, order_id: UUID) -> OrderDetails | None:
        raise NotImplementedError

    async def summaries(
        self, *, customer_id: str | None, offset: int, limit: int
    ) -> tuple[Sequence[OrderSummary], int]:
        raise NotImplementedError

    def track(self, aggregate: Any) -> None:
        self._tracked.append(aggregate)

    def send(self, command: stock_commands.StockCommand) -> None:
        self._sent.append(command)

    async def commit(self) -> None:
        # As the real one does: the tracked aggregates' events first, then what was sent.
        self.commits += 1
        for aggregate in self._tracked:
            self.store.sent.extend(aggregate.events)
            aggregate.events.clear()
        self.store.sent.extend(self._sent)
        self._sent = []


class FakeSagas:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, saga: Saga) -> None:
        saga.version = 1
        self.store.sagas[saga.order_id] = stored(saga)

    async def get(self, order_id: UUID) -> Saga | None:
        saga = self.store.sagas.get(order_id)
        return copy.deepcopy(saga) if saga else None

    async def get_with_order(self, order_id: UUID) -> tuple[Saga, Order] | None:
        saga, order = self.store.sagas.get(order_id), self.store.orders.get(order_id)
        return (copy.deepcopy(saga), copy.deepcopy(order)) if saga and order else None

    async def save(self, saga: Saga) -> None:
        if self.store.conflicts:
            self.store.conflicts -= 1
            raise ConcurrencyConflict(saga.order_id, saga.version)
        assert self.store.sagas[saga.order_id].version == saga.version
        saga.version += 1
        self.store.sagas[saga.order_id] = stored(saga)

    async def postpone(self, order_id: UUID, until: datetime) -> None:
        self.store.sagas[order_id].deadline_at = until
        self.store.sagas[order_id].version += 1

    async def lock_due(self, now: datetime, limit: int) -> Sequence[Saga]:
        return [copy.deepcopy(s) for s in self.store.sagas.values() if s.is_due(now)][:limit]

    async def next_deadline(self) -> datetime | None:
        return min((s.deadline_at for s in self.store.sagas.values() if s.deadline_at), default=None)

    async def requests_published_at(self, request_ids: Sequence[UUID]) -> dict[UUID, datetime | None]:
        return {i: self.store.outbox[i] for i in request_ids if i in self.store.outbox}


async def placed(store: Store) -> Order:
    command = commands.PlaceOrder(uuid4(), "alice", "alice@example.com", [OrderLine(uuid4(), 2)])
    uow, sent_before = FakeUow(store), len(store.sent)
    order = await order_handlers.place_order(command, uow, now=NOW)
    assert (uow.commits, len(store.sent)) == (0, sent_before), "the handler writes; its caller commits"
    await uow.commit()
    return order


def reserved(order: Order) -> triggers.StockReserved:
    return triggers.StockReserved(
        tuple(PricedLine(x.book_id, x.quantity, Money(Decimal(3), "EUR")) for x in order.lines)
    )


async def test_placing_writes_the_order_its_saga_and_sends_order_placed_then_reserve_stock() -> None:
    store = Store()
    order = await placed(store)
    assert [type(e) for e in store.sent] == [events.OrderPlaced, stock_commands.ReserveStock]
    assert store.sagas[order.id].deadline_at == NOW + timedelta(seconds=5)
    assert store.history == [(order.id, "placed", Cause("http", "alice"))]


async def test_a_reply_that_loses_a_race_is_decided_again_on_a_fresh_read() -> None:
    store = Store()
    order = await placed(store)
    store.conflicts = 2
    store.sent.clear()
    uow = FakeUow(store)

    step = await order_handlers.handle_reply(order.id, reserved(order), Cause("stock-reserved", "m1"), uow)
    assert uow.commits == 0
    await uow.commit()

    assert [type(e) for e in store.sent] == [events.OrderConfirmed], "only the decision that won is sent"
    assert step is not None
    assert step.change == "confirmed"
    assert store.orders[order.id].status.value == "confirmed"
    assert store.sagas[order.id].version == 2


async def test_a_reply_losing_every_race_goes_up_for_the_consumer_to_retry() -> None:
    store = Store()
    order = await placed(store)
    store.conflicts = order_handlers.REREADS + 1
    with pytest.raises(ConcurrencyConflict):
        await order_handlers.handle_reply(
            order.id, reserved(order), Cause("stock-reserved", "m1"), FakeUow(store)
        )
    assert store.orders[order.id].status.value == "pending"


async def test_a_reply_for_an_unknown_order_is_ignored() -> None:
    assert (
        await order_handlers.handle_reply(uuid4(), triggers.StockReleased(True), Cause("x"), FakeUow(Store()))
        is None
    )


async def test_the_scanner_resends_reserve_stock_for_due_sagas_only() -> None:
    store = Store()
    order = await placed(store)
    store.sent.clear()

    assert await order_handlers.scan_due_sagas(lambda: FakeUow(store), NOW, batch=10) == 0
    assert (
        await order_handlers.scan_due_sagas(lambda: FakeUow(store), NOW + timedelta(seconds=5), batch=10) == 1
    )

    assert [type(e) for e in store.sent] == [stock_commands.ReserveStock]
    assert store.history[-1] == (order.id, "reserve_stock_resent", order_handlers.DEADLINE_CAUSE)


async def test_the_scanner_does_not_resend_a_request_still_waiting_in_the_outbox() -> None:
    store = Store()
    order = await placed(store)
    request = store.sagas[order.id].request_id
    assert request is not None
    store.outbox[request] = None
    store.sent.clear()
    later = NOW + timedelta(seconds=6)

    assert await order_handlers.scan_due_sagas(lambda: FakeUow(store), later, batch=10) == 1

    assert store.sent == []
    saga = store.sagas[order.id]
    assert (saga.attempts, saga.request_id, saga.deadline_at) == (1, request, later + timedelta(seconds=5))
    assert store.history[-1] == (order.id, "deadline_moved", order_handlers.DEADLINE_CAUSE)


async def test_the_scanner_gives_a_request_published_late_its_whole_interval_from_its_publication() -> None:
    store = Store()
    order = await placed(store)
    request = store.sagas[order.id].request_id
    assert request is not None
    published = NOW + timedelta(seconds=2)
    store.outbox[request] = published
    store.sent.clear()

    assert (
        await order_handlers.scan_due_sagas(lambda: FakeUow(store), NOW + timedelta(seconds=5), batch=10) == 1
    )

    assert store.sent == []
    assert store.sagas[order.id].deadline_at == published + timedelta(seconds=5)
    assert store.sagas[order.id].sent_at == published


async def test_another_customers_order_is_not_found_and_a_customer_may_not_complete() -> None:
    store = Store()
    order = await placed(store)
    with pytest.raises(OrderNotFound):
        await order_handlers.cancel_order(order.id, commands.Actor("bob"), FakeUow(store))
    with pytest.raises(NotPermitted):
        await order_handlers.complete_order(order.id, commands.Actor("alice"), FakeUow(store))


async def test_a_deadline_that_cannot_be_decided_is_postponed_without_blocking_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = Store()
    broken, fine = await placed(store), await placed(store)
    real_handle = Saga.handle

    def handle(saga: Saga, *args: Any) -> Any:
        if saga.order_id == broken.id:
            raise RuntimeError("a bug")
        return real_handle(saga, *args)

    monkeypatch.setattr(Saga, "handle", handle)
    later = NOW + timedelta(seconds=5)

    assert await order_handlers.scan_due_sagas(lambda: FakeUow(store), later, batch=10) == 2

    assert store.sagas[broken.id].deadline_at == later + POLICY.first_deadline
    assert store.sagas[fine.id].attempts == 2


async def test_the_scanner_sleeps_until_the_nearest_deadline_and_never_longer_than_its_longest() -> None:
    store = Store()

    async def sleep(now: datetime) -> float:
        return await order_handlers.seconds_to_next_deadline(lambda: FakeUow(store), longest=5.0, now=now)

    assert await sleep(NOW) == 5.0, "no saga waits"
    order = await placed(store)
    deadline = store.sagas[order.id].deadline_at
    assert deadline is not None
    assert await sleep(deadline - timedelta(seconds=2)) == 2.0
    assert await sleep(deadline - timedelta(hours=1)) == 5.0
    assert await sleep(deadline + timedelta(seconds=1)) == 0.0


async def test_a_sleeping_scanner_handles_a_deadline_set_nearer_than_the_one_it_slept_towards() -> None:
    store = Store()
    far = await placed(store)
    store.sagas[far.id].deadline_at = datetime.now(UTC) + timedelta(hours=1)
    settings = SimpleNamespace(deadline_scan_batch=10, deadline_scan_interval_seconds=0.2)
    resources = SimpleNamespace(settings=settings, uow_factory=lambda: FakeUow(store), stop=asyncio.Event())
    scanner = asyncio.create_task(run_deadline_scanner(resources))  # type: ignore[arg-type]
    try:
        await asyncio.sleep(0.3)  # the scanner has read the far deadline and sleeps towards it
        near = await placed(store)  # already due (NOW is in the past)
        due_at = store.sagas[near.id].deadline_at
        await eventually(lambda: _true(store.sagas[near.id].deadline_at != due_at), within=10)
    finally:
        resources.stop.set()
        await asyncio.wait_for(scanner, timeout=10)
    assert store.sagas[far.id].attempts == 1, "the far deadline is not due"


async def _true(value: bool) -> bool:
    return value
