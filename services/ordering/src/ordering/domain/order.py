"""The Order aggregate: who ordered which books, where the order stands, and what it cost once priced.

Statuses::

    pending ──► confirmed ──► completed
       │            └──► cancelling ──► cancelled
       ├──► rejected
       └──► cancelled   (the saga gave up, or a remembered cancel met the catalog's answer)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from ordering.domain import events
from ordering.domain.errors import InvalidOrder, NotPermitted, PricingMismatch, TransitionNotAllowed
from ordering.domain.lines import OrderLine, PricedLine
from ordering.domain.money import CurrencyMismatch, Money

MAX_QUANTITY = 1000


class OrderStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


_MOVES: dict[OrderStatus, frozenset[OrderStatus]] = {
    # Pending to cancelling: a cancel remembered while awaiting stock, whose stock is being released.
    OrderStatus.PENDING: frozenset(
        {OrderStatus.CONFIRMED, OrderStatus.REJECTED, OrderStatus.CANCELLING, OrderStatus.CANCELLED}
    ),
    OrderStatus.CONFIRMED: frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLING}),
    OrderStatus.CANCELLING: frozenset({OrderStatus.CANCELLED}),
}


def check_lines(lines: Sequence[OrderLine]) -> None:
    """Raise ``InvalidOrder`` naming every bad line: none at all, a quantity below one, a book twice."""
    problems: dict[str, str] = {}
    if not lines:
        problems["lines"] = "an order needs at least one line"
    seen: set[UUID] = set()
    for index, line in enumerate(lines):
        if line.quantity < 1:
            problems[f"lines.{index}.quantity"] = "must be at least 1"
        elif line.quantity > MAX_QUANTITY:
            problems[f"lines.{index}.quantity"] = f"must be at most {MAX_QUANTITY}"
        if line.book_id in seen:
            problems[f"lines.{index}.book_id"] = "this book is already on another line"
        seen.add(line.book_id)
    if problems:
        raise InvalidOrder(problems)


@dataclass(eq=False)
class Order:
    id: UUID
    customer_id: str
    customer_email: str
    lines: tuple[OrderLine, ...]
    status: OrderStatus
    placed_at: datetime
    updated_at: datetime
    priced_lines: tuple[PricedLine, ...] = ()
    total: Money | None = None
    # Why the order ended without a sale (rejected or cancelled).
    reason: str | None = None
    events: list[Any] = field(default_factory=list)

    @classmethod
    def place(
        cls,
        *,
        order_id: UUID,
        customer_id: str,
        customer_email: str,
        lines: Sequence[OrderLine],
        at: datetime,
    ) -> Order:
        problems: dict[str, str] = {}
        if not customer_id:
            problems["customer_id"] = "an order needs a customer"
        if "@" not in customer_email:
            problems["customer_email"] = "an order needs the customer's e-mail address"
        try:
            check_lines(lines)
        except InvalidOrder as invalid:
            problems.update(invalid.errors)
        if problems:
            raise InvalidOrder(problems)
        order = cls(
            id=order_id,
            customer_id=customer_id,
            customer_email=customer_email,
            lines=tuple(lines),
            status=OrderStatus.PENDING,
            placed_at=at,
            updated_at=at,
        )
        order.events.append(events.OrderPlaced(**order._about(at), lines=order.lines))
        return order

    # Access: a customer sees and cancels only their own orders; an admin sees, cancels and completes any.
    def is_visible_to(self, subject: str, *, is_admin: bool) -> bool:
        return is_admin or subject == self.customer_id

    def check_may_cancel(self, subject: str, *, is_admin: bool) -> None:
        if not self.is_visible_to(subject, is_admin=is_admin):
            raise NotPermitted(f"{subject} may not cancel order {self.id}")

    def check_may_complete(self, subject: str, *, is_admin: bool) -> None:
        if not is_admin:
            raise NotPermitted(f"only an admin completes orders, not {subject}")

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    def confirm(self, priced: Sequence[PricedLine], at: datetime) -> None:
        self._check_move(OrderStatus.CONFIRMED, "confirm")
        ordered = {(line.book_id, line.quantity) for line in self.lines}
        if {(line.book_id, line.quantity) for line in priced} != ordered or len(priced) != len(self.lines):
            raise PricingMismatch(f"the catalog priced other lines than order {self.id} holds")
        currencies = {line.unit_price.currency for line in priced}
        try:
            total = Money.zero(priced[0].unit_price.currency)
            for line in priced:
                total = total + line.subtotal
        except CurrencyMismatch as mixed:
            raise PricingMismatch(f"order {self.id} priced in {sorted(currencies)}") from mixed
        by_book = {line.book_id: line for line in priced}
        self._move(OrderStatus.CONFIRMED, "confirm", at)
        self.priced_lines = tuple(by_book[line.book_id] for line in self.lines)
        self.total = total
        self.events.append(events.OrderConfirmed(**self._about(at), lines=self.priced_lines, total=total))

    def reject(self, reason: str, at: datetime) -> None:
        self._move(OrderStatus.REJECTED, "reject", at)
        self.reason = reason
        self.events.append(events.OrderRejected(**self._about(at), reason=reason))

    def start_cancelling(self, reason: str, at: datetime) -> None:
        self._move(OrderStatus.CANCELLING, "cancel", at)
        self.reason = reason
        self.events.append(events.OrderCancellationStarted(**self._about(at), reason=reason))

    def cancel(self, reason: str, at: datetime) -> None:
        self._move(OrderStatus.CANCELLED, "cancel", at)
        self.reason = self.reason or reason
        self.events.append(events.OrderCancelled(**self._about(at), reason=self.reason))

    def complete(self, at: datetime) -> None:
        self._move(OrderStatus.COMPLETED, "complete", at)
        assert self.total is not None, "a confirmed order is priced"
        book_ids = tuple(line.book_id for line in self.lines)
        self.events.append(events.OrderCompleted(**self._about(at), book_ids=book_ids, total=self.total))

    def _check_move(self, to: OrderStatus, move: str) -> None:
        if to not in _MOVES.get(self.status, frozenset()):
            raise TransitionNotAllowed(self.id, self.status.value, move)

    def _move(self, to: OrderStatus, move: str, at: datetime) -> None:
        self._check_move(to, move)
        self.status = to
        self.updated_at = at

    def _about(self, at: datetime) -> dict[str, Any]:
        return {
            "order_id": self.id,
            "customer_id": self.customer_id,
            "customer_email": self.customer_email,
            "at": at,
        }
