"""The requests that change the catalog, as plain values (the API and the consumers build them)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from catalog.domain.book import KEEP, Keep
from catalog.domain.reservation import RequestedLine


@dataclass(frozen=True, slots=True)
class PriceInput:
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class CreateBook:
    isbn: str
    title: str
    price: PriceInput
    stock: int = 0
    description: str = ""
    author_ids: tuple[UUID, ...] = ()
    category_id: UUID | None = None
    publisher_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class UpdateBook:
    """Only the attributes given change; ``None`` for category or publisher removes it."""

    book_id: UUID
    isbn: str | Keep = KEEP
    title: str | Keep = KEEP
    description: str | Keep = KEEP
    price: PriceInput | Keep = KEEP
    author_ids: tuple[UUID, ...] | Keep = KEEP
    category_id: UUID | Keep | None = KEEP
    publisher_id: UUID | Keep | None = KEEP


@dataclass(frozen=True, slots=True)
class DeleteBook:
    book_id: UUID


@dataclass(frozen=True, slots=True)
class RestockBook:
    book_id: UUID
    quantity: int


@dataclass(frozen=True, slots=True)
class CreateAuthor:
    name: str


@dataclass(frozen=True, slots=True)
class CreateCategory:
    name: str


@dataclass(frozen=True, slots=True)
class CreatePublisher:
    name: str


@dataclass(frozen=True, slots=True)
class ReserveStock:
    order_id: UUID
    lines: tuple[RequestedLine, ...]


@dataclass(frozen=True, slots=True)
class ReleaseStock:
    order_id: UUID
    reason: str


@dataclass(frozen=True, slots=True)
class RecordFeedbackSubmitted:
    feedback_id: UUID
    book_id: UUID
    customer_id: str
    stars: int
    version: int


@dataclass(frozen=True, slots=True)
class RecordFeedbackDeleted:
    feedback_id: UUID
    book_id: UUID
    customer_id: str
    version: int
