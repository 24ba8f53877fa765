"""What the use cases need from storage; the adapters provide it, the unit of work hands it over."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

from rating.application.views import BookFeedbackQuery, FeedbackView, RatingSummary, Slice
from rating.domain.books import KnownBook
from rating.domain.feedback import Feedback
from rating.domain.purchases import VerifiedPurchase


class Feedbacks(Protocol):
    async def lock(self, book_id: UUID, customer_id: str) -> None:
        """Hold this customer's feedback on this book until the transaction ends: its changes queue.

        Works whether or not the feedback exists yet, so two first submissions cannot both insert.
        """

    async def get(self, book_id: UUID, customer_id: str) -> Feedback | None:
        """The customer's feedback on the book, live or deleted (a tombstone)."""

    async def add(self, feedback: Feedback) -> None: ...

    async def save(self, feedback: Feedback) -> None: ...


class KnownBooks(Protocol):
    async def lock(self, book_id: UUID) -> None:
        """Hold the book's replica entry until the transaction ends, whether it exists yet or not."""

    async def get(self, book_id: UUID) -> KnownBook | None: ...

    async def add(self, book: KnownBook) -> None: ...

    async def save(self, book: KnownBook) -> None: ...


class Purchases(Protocol):
    async def add(self, purchases: Sequence[VerifiedPurchase]) -> None:
        """Record the purchases; a customer's book already recorded keeps its first order."""

    async def exists(self, customer_id: str, book_id: UUID) -> bool: ...


class Reads(Protocol):
    async def book_feedback(self, query: BookFeedbackQuery) -> Slice[FeedbackView]: ...

    async def summary(self, book_id: UUID) -> RatingSummary: ...


class RatingUow(Protocol):
    # Read-only properties, so that a unit of work holding concrete repositories satisfies the protocol.
    @property
    def feedback(self) -> Feedbacks: ...

    @property
    def books(self) -> KnownBooks: ...

    @property
    def purchases(self) -> Purchases: ...

    @property
    def reads(self) -> Reads: ...

    def track(self, aggregate: Any) -> None: ...

    async def commit(self) -> None: ...
