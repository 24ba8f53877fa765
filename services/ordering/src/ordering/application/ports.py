"""What the handlers need from storage, as protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self
from uuid import UUID

from ordering.application.views import HistoryEntry, OrderDetails, OrderSummary
from ordering.domain.order import Order
from ordering.domain.saga import Saga, SagaPolicy
from ordering.domain.stock_commands import StockCommand


@dataclass(frozen=True, slots=True)
class Cause:
    """What caused a change, for the order's timeline: a message (type and id), a request, the clock."""

    type: str
    id: str | None = None


class Orders(Protocol):
    async def add(self, order: Order) -> None: ...
    async def get(self, order_id: UUID) -> Order | None: ...
    async def save(self, order: Order) -> None: ...


class Sagas(Protocol):
    async def add(self, saga: Saga) -> None: ...
    async def get(self, order_id: UUID) -> Saga | None: ...
    async def get_with_order(self, order_id: UUID) -> tuple[Saga, Order] | None:
        """The saga and its order as one read sees them (one snapshot); None when either is unknown."""

    async def save(self, saga: Saga) -> None:
        """Write ``saga`` unless someone did since it was read (``ConcurrencyConflict``); bump its version."""

    async def postpone(self, order_id: UUID, until: datetime) -> None:
        """Move a locked saga's deadline to ``until`` (and bump its version)."""

    async def lock_due(self, now: datetime, limit: int) -> Sequence[Saga]:
        """Sagas whose deadline passed, locked for this transaction; those locked by others are skipped."""

    async def next_deadline(self) -> datetime | None:
        """The nearest deadline of any saga (past or not), None when no saga waits."""

    async def requests_published_at(self, request_ids: Sequence[UUID]) -> dict[UUID, datetime | None]:
        """When each request still in the outbox was published (None: not yet); pruned ones are absent."""


class History(Protocol):
    async def record(
        self, order: Order, saga: Saga, *, change: str, detail: str, cause: Cause, at: datetime
    ) -> None: ...
    async def timeline(self, order_id: UUID) -> Sequence[HistoryEntry]: ...


class Reads(Protocol):
    async def order_details(self, order_id: UUID) -> OrderDetails | None: ...
    async def summaries(
        self, *, customer_id: str | None, offset: int, limit: int
    ) -> tuple[Sequence[OrderSummary], int]: ...
    async def orders_awaiting_stock(self) -> int:
        """How many orders wait for the catalog's answer to their reservation (cancelled meanwhile or not)."""


class OrderingUow(Protocol):
    # Read-only in the protocol, so a unit of work may hold narrower (concrete) repositories.
    @property
    def orders(self) -> Orders: ...
    @property
    def sagas(self) -> Sagas: ...
    @property
    def history(self) -> History: ...
    @property
    def reads(self) -> Reads: ...
    @property
    def policy(self) -> SagaPolicy: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def track(self, aggregate: Any) -> None: ...
    def send(self, command: StockCommand) -> None: ...
    async def commit(self) -> None: ...
