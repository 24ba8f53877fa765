"""What an order holds: books and quantities, and the prices the catalog charged for them."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from ordering.domain.money import Money


@dataclass(frozen=True, slots=True)
class OrderLine:
    book_id: UUID
    quantity: int


@dataclass(frozen=True, slots=True)
class PricedLine:
    book_id: UUID
    quantity: int
    unit_price: Money

    @property
    def subtotal(self) -> Money:
        return self.unit_price.times(self.quantity)
