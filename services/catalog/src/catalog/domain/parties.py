"""Who writes, groups and publishes books: authors, categories and publishers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from catalog.domain.identity import new_id, utcnow
from catalog.domain.names import clean_name

MAX_BIO = 5_000


@dataclass(eq=False)
class Author:
    id: UUID
    name: str
    created_at: datetime
    events: list[Any] = field(default_factory=list)

    @classmethod
    def create(cls, name: str, *, id: UUID | None = None) -> Author:
        return cls(id=id or new_id(), name=clean_name(name), created_at=utcnow())


@dataclass(eq=False)
class Category:
    """A category's name is unique in the catalog (the repository enforces it)."""

    id: UUID
    name: str
    created_at: datetime
    events: list[Any] = field(default_factory=list)

    @classmethod
    def create(cls, name: str, *, id: UUID | None = None) -> Category:
        return cls(id=id or new_id(), name=clean_name(name), created_at=utcnow())


@dataclass(eq=False)
class Publisher:
    """A publisher's name is unique in the catalog (the repository enforces it)."""

    id: UUID
    name: str
    created_at: datetime
    events: list[Any] = field(default_factory=list)

    @classmethod
    def create(cls, name: str, *, id: UUID | None = None) -> Publisher:
        return cls(id=id or new_id(), name=clean_name(name), created_at=utcnow())


@dataclass(frozen=True, slots=True)
class AuthorRef:
    """An author as a book knows it: enough to name it in what the book tells others."""

    id: UUID
    name: str


@dataclass(frozen=True, slots=True)
class CategoryRef:
    id: UUID
    name: str


@dataclass(frozen=True, slots=True)
class PublisherRef:
    id: UUID
    name: str
