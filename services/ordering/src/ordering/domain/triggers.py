"""What can move an order's saga: the catalog's replies, the clock, and people.

Replies and the clock can arrive late, twice, or after the end: the saga records and ignores what no longer
applies. People get an answer: a move the state forbids is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ordering.domain.lines import PricedLine


@dataclass(frozen=True, slots=True)
class StockReserved:
    lines: tuple[PricedLine, ...]


@dataclass(frozen=True, slots=True)
class StockReservationRejected:
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StockReleased:
    # False when the catalog held nothing for the order.
    released: bool


@dataclass(frozen=True, slots=True)
class DeadlineReached:
    """The catalog has not answered the saga's request in time.

    ``published_at`` is when that request left the outbox, None while it is still waiting there.
    """

    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class CustomerCancel:
    """The customer (or an admin on their behalf) asks to cancel."""

    by: str


@dataclass(frozen=True, slots=True)
class AdminComplete:
    by: str


Reply = StockReserved | StockReservationRejected | StockReleased
Request = CustomerCancel | AdminComplete
Trigger = Reply | DeadlineReached | Request
