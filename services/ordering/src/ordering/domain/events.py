"""What happened to an order (what its saga asks of the catalog is in ``stock_commands``).

The unit of work turns each into a message on the bus (or keeps it inside the service) on commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from ordering.domain.lines import OrderLine, PricedLine
from ordering.domain.money import Money


@dataclass(frozen=True, slots=True)
class OrderEvent:
    order_id: UUID
    customer_id: str
    customer_email: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderPlaced(OrderEvent):
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True, slots=True)
class OrderConfirmed(OrderEvent):
    lines: tuple[PricedLine, ...]
    total: Money


@dataclass(frozen=True, slots=True)
class OrderRejected(OrderEvent):
    """The catalog refused the stock: the order ends without a sale."""

    reason: str


@dataclass(frozen=True, slots=True)
class OrderCancellationStarted(OrderEvent):
    """A confirmed order waits for its stock to be given back; nobody outside needs to know yet."""

    reason: str


@dataclass(frozen=True, slots=True)
class OrderCancelled(OrderEvent):
    reason: str


@dataclass(frozen=True, slots=True)
class OrderCompleted(OrderEvent):
    book_ids: tuple[UUID, ...]
    total: Money
