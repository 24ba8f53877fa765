"""What queries answer: the book view and the lists of authors, categories and publishers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar
from uuid import UUID

from catalog.domain.money import Money

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BookView:
    id: UUID
    isbn: str
    title: str
    description: str
    author_ids: tuple[UUID, ...]
    author_names: tuple[str, ...]
    category_id: UUID | None
    category: str | None
    publisher_id: UUID | None
    publisher: str | None
    price: Money
    stock: int
    in_stock: bool
    # None until someone rated the book.
    average_rating: Decimal | None
    rating_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PartyView:
    """An author, a category or a publisher."""

    id: UUID
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Slice(Generic[T]):
    """One page of results and how many there are in all."""

    items: tuple[T, ...]
    total: int


class BookSort(StrEnum):
    TITLE = "title"
    PRICE = "price"
    PRICE_DESC = "-price"
    RATING = "-rating"
    NEWEST = "-created"
    # Best matches first; only meaningful with a search text (falls back to title otherwise).
    RELEVANCE = "relevance"


@dataclass(frozen=True, slots=True)
class BrowseBooks:
    text: str | None = None
    category_id: UUID | None = None
    author_id: UUID | None = None
    publisher_id: UUID | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None
    sort: BookSort | None = None
    offset: int = 0
    limit: int = 20


@dataclass(frozen=True, slots=True)
class ListParties:
    # Case-insensitive part of the name.
    name: str | None = None
    offset: int = 0
    limit: int = 20
