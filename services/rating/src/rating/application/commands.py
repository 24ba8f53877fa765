"""The requests that change rating, as plain values (the API and the consumers build them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class SubmitFeedback:
    """Give, or replace, the customer's feedback on a book."""

    book_id: UUID
    customer_id: str
    stars: int
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteFeedback:
    book_id: UUID
    customer_id: str


@dataclass(frozen=True, slots=True)
class RecordBookCreated:
    book_id: UUID
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class RecordBookDeleted:
    book_id: UUID
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class RecordOrderCompleted:
    order_id: UUID
    customer_id: str
    book_ids: tuple[UUID, ...]
    completed_at: datetime
