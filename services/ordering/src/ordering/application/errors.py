"""Refusals of the application layer (the domain's own are in ``ordering.domain.errors``)."""

from __future__ import annotations

from uuid import UUID


class OrderNotFound(LookupError):
    def __init__(self, order_id: UUID) -> None:
        super().__init__(f"order {order_id} does not exist")
        self.order_id = order_id


class ConcurrencyConflict(RuntimeError):
    """Someone else moved the saga since we read it; the caller retries with a fresh read."""

    def __init__(self, order_id: UUID, version: int) -> None:
        super().__init__(f"saga of order {order_id} is no longer at version {version}")
        self.order_id = order_id
