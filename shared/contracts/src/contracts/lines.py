"""Order lines as they travel between ordering and catalog."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field

from contracts.money import Money
from contracts.values import Part


class OrderLine(Part):
    """A book and how many copies of it."""

    book_id: UUID
    quantity: int = Field(ge=1)


class PricedLine(Part):
    """An order line with the unit price the catalog charged."""

    book_id: UUID
    quantity: int = Field(ge=1)
    unit_price: Money

    @property
    def subtotal(self) -> Money:
        return self.unit_price * self.quantity


def _distinct_books(lines: list[OrderLine]) -> list[OrderLine]:
    seen: set[UUID] = set()
    for line in lines:
        if line.book_id in seen:
            raise ValueError(f"book {line.book_id} appears on more than one line")
        seen.add(line.book_id)
    return lines


# At least one line, each book at most once.
DistinctOrderLines = Annotated[list[OrderLine], Field(min_length=1), AfterValidator(_distinct_books)]


def check_total(lines: list[PricedLine], total: Money) -> None:
    """Raise ``ValueError`` unless ``total`` is the sum of the lines, all in one currency."""
    expected = Money.total((line.subtotal for line in lines), total.currency)
    if expected != total:
        raise ValueError(f"total {total} is not the sum of the lines ({expected})")
