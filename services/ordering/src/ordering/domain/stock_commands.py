"""What the order's saga asks of the catalog: commands, which the handler sends (``uow.send``).

Not events: nothing has happened yet. The message mapping turns each into the catalog's contracts command.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from ordering.domain.lines import OrderLine


@dataclass(frozen=True, slots=True)
class ReserveStock:
    """Hold every line (again, on a retry: the catalog keys it by order id)."""

    order_id: UUID
    lines: tuple[OrderLine, ...]
    attempt: int
    # The outbox message id: the saga finds its request in the outbox by it.
    message_id: UUID


@dataclass(frozen=True, slots=True)
class ReleaseStock:
    """Give back whatever the catalog holds for the order (idempotent)."""

    order_id: UUID
    reason: str
    message_id: UUID


StockCommand = ReserveStock | ReleaseStock
