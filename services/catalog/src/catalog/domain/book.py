"""The book: what the catalog sells, with its price, its stock and its place among authors and categories."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from catalog.domain.errors import BookIsDeleted, DomainError, InvalidQuantity, NotEnoughStock
from catalog.domain.events import BookCreated, BookDeleted, BookRestocked, BookUpdated
from catalog.domain.identity import new_id, utcnow
from catalog.domain.isbn import Isbn
from catalog.domain.money import Money
from catalog.domain.names import MAX_TITLE, clean_description, clean_name
from catalog.domain.parties import AuthorRef, CategoryRef, PublisherRef

# Far more copies than any shop holds; keeps stock within a 32-bit column.
MAX_STOCK = 1_000_000_000


class Keep(Enum):
    """Marks an attribute an update leaves as it is (``None`` would mean "remove")."""

    KEEP = "keep"


KEEP = Keep.KEEP


def _check_authors(authors: Sequence[AuthorRef]) -> tuple[AuthorRef, ...]:
    ids = [author.id for author in authors]
    if len(set(ids)) != len(ids):
        raise DomainError("an author appears more than once", field="author_ids")
    return tuple(authors)


def _check_stock(stock: int, *, field: str) -> int:
    if isinstance(stock, bool) or not isinstance(stock, int):
        raise InvalidQuantity(f"{field} must be a whole number", field=field)
    if stock < 0:
        raise InvalidQuantity(f"{field} cannot be negative", field=field)
    if stock > MAX_STOCK:
        raise InvalidQuantity(f"{field} cannot exceed {MAX_STOCK}", field=field)
    return stock


def _check_positive(quantity: int, *, field: str = "quantity") -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvalidQuantity(f"{field} must be a whole number of at least 1", field=field)
    return quantity


@dataclass(eq=False)
class Book:
    id: UUID
    isbn: Isbn
    title: str
    description: str
    authors: tuple[AuthorRef, ...]
    category: CategoryRef | None
    publisher: PublisherRef | None
    price: Money
    stock: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    # Counts the changes of the book's details (not of its stock), for the readers of its events.
    version: int = 1
    events: list[Any] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        *,
        isbn: Isbn,
        title: str,
        price: Money,
        stock: int = 0,
        description: str = "",
        authors: Sequence[AuthorRef] = (),
        category: CategoryRef | None = None,
        publisher: PublisherRef | None = None,
        id: UUID | None = None,
    ) -> Book:
        now = utcnow()
        book = cls(
            id=id or new_id(),
            isbn=isbn,
            title=clean_name(title, field="title", limit=MAX_TITLE),
            description=clean_description(description),
            authors=_check_authors(authors),
            category=category,
            publisher=publisher,
            price=price,
            stock=_check_stock(stock, field="stock"),
            created_at=now,
            updated_at=now,
        )
        book.events.append(BookCreated(**book._state(), occurred_at=now))
        return book

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def author_names(self) -> tuple[str, ...]:
        return tuple(author.name for author in self.authors)

    def _state(self) -> dict[str, Any]:
        return {
            "book_id": self.id,
            "isbn": self.isbn.value,
            "title": self.title,
            "author_names": self.author_names,
            "category": self.category.name if self.category else None,
            "price": self.price,
        }

    def _ensure_live(self) -> None:
        if self.deleted_at is not None:
            raise BookIsDeleted(self.id)

    def update(
        self,
        *,
        isbn: Isbn | Keep = KEEP,
        title: str | Keep = KEEP,
        description: str | Keep = KEEP,
        authors: Sequence[AuthorRef] | Keep = KEEP,
        category: CategoryRef | Keep | None = KEEP,
        publisher: PublisherRef | Keep | None = KEEP,
        price: Money | Keep = KEEP,
    ) -> bool:
        """Change the book's details; True when anything changed (and BookUpdated was recorded)."""
        self._ensure_live()
        changes: dict[str, Any] = {}
        if not isinstance(isbn, Keep):
            changes["isbn"] = isbn
        if not isinstance(title, Keep):
            changes["title"] = clean_name(title, field="title", limit=MAX_TITLE)
        if not isinstance(description, Keep):
            changes["description"] = clean_description(description)
        if not isinstance(authors, Keep):
            changes["authors"] = _check_authors(authors)
        if not isinstance(category, Keep):
            changes["category"] = category
        if not isinstance(publisher, Keep):
            changes["publisher"] = publisher
        if not isinstance(price, Keep):
            changes["price"] = price
        changed = {name: value for name, value in changes.items() if getattr(self, name) != value}
        if not changed:
            return False
        for name, value in changed.items():
            setattr(self, name, value)
        self.updated_at = utcnow()
        self.version += 1
        self.events.append(BookUpdated(**self._state(), occurred_at=self.updated_at))
        return True

    def delete(self) -> None:
        """Soft delete: the book stays for the orders and reservations that name it, but is gone for sale."""
        self._ensure_live()
        self.deleted_at = self.updated_at = utcnow()
        self.version += 1
        self.events.append(BookDeleted(book_id=self.id, occurred_at=self.deleted_at))

    def restock(self, quantity: int) -> None:
        self._ensure_live()
        _check_positive(quantity)
        self.stock = _check_stock(self.stock + quantity, field="stock")
        self.events.append(
            BookRestocked(book_id=self.id, quantity=quantity, stock=self.stock, occurred_at=utcnow())
        )

    def can_supply(self, quantity: int) -> bool:
        return self.deleted_at is None and self.stock >= quantity

    def take_stock(self, quantity: int) -> None:
        """Hold copies for a reservation."""
        self._ensure_live()
        _check_positive(quantity)
        if self.stock < quantity:
            raise NotEnoughStock(self.id, quantity, self.stock)
        self.stock -= quantity

    def return_stock(self, quantity: int) -> None:
        """Give back copies a reservation held, even to a book deleted since: the count must stay true."""
        _check_positive(quantity)
        self.stock = _check_stock(self.stock + quantity, field="stock")
