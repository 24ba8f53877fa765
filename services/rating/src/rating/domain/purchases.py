"""Verified purchases: a customer bought a book in a completed order, which vouches for their feedback."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from rating.domain.feedback import check_customer


@dataclass(frozen=True, slots=True)
class VerifiedPurchase:
    customer_id: str
    book_id: UUID
    order_id: UUID
    purchased_at: datetime

    @classmethod
    def of_order(
        cls, *, order_id: UUID, customer_id: str, book_ids: Iterable[UUID], completed_at: datetime
    ) -> tuple[VerifiedPurchase, ...]:
        """One purchase per distinct book of a completed order, in a stable order (by book id)."""
        customer_id = check_customer(customer_id)
        return tuple(
            cls(customer_id=customer_id, book_id=book_id, order_id=order_id, purchased_at=completed_at)
            for book_id in sorted(set(book_ids))
        )
