"""What the use cases need from storage; the adapters provide it, the unit of work hands it over."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, Protocol
from uuid import UUID

from catalog.application.views import BookView, BrowseBooks, ListParties, PartyView, Slice
from catalog.domain.book import Book
from catalog.domain.parties import Author, Category, Publisher
from catalog.domain.ratings import CustomerRating
from catalog.domain.reservation import StockReservation


class Books(Protocol):
    async def get(self, book_id: UUID, *, for_update: bool = False) -> Book | None:
        """The book, deleted or not; ``for_update`` holds its row until the transaction ends."""

    async def lock_many(self, book_ids: Collection[UUID]) -> dict[UUID, Book]:
        """The known books among ``book_ids``, their rows held until the transaction ends.

        Rows are locked in id order, so that transactions locking overlapping sets never deadlock.
        """

    async def add(self, book: Book) -> None: ...

    async def save(self, book: Book) -> None: ...

    async def save_all(self, books: Iterable[Book]) -> None:
        """Save each of ``books``, as ``save`` would (the stock of many books in one statement)."""

    async def isbn_in_use(self, isbn: str, *, other_than: UUID | None = None) -> bool:
        """Whether a live book other than ``other_than`` has ``isbn``."""


class Authors(Protocol):
    async def get_many(self, ids: Collection[UUID]) -> dict[UUID, Author]: ...

    async def add(self, author: Author) -> None: ...


class Categories(Protocol):
    async def get(self, category_id: UUID) -> Category | None: ...

    async def name_in_use(self, name: str) -> bool: ...

    async def add(self, category: Category) -> None: ...


class Publishers(Protocol):
    async def get(self, publisher_id: UUID) -> Publisher | None: ...

    async def name_in_use(self, name: str) -> bool: ...

    async def add(self, publisher: Publisher) -> None: ...


class Reservations(Protocol):
    async def lock_order(self, order_id: UUID) -> None:
        """Hold the order's reservation, existing or not, until the transaction ends: its commands queue."""

    async def get(self, order_id: UUID, *, for_update: bool = False) -> StockReservation | None: ...

    async def add(self, reservation: StockReservation) -> None: ...

    async def save(self, reservation: StockReservation) -> None: ...


class Ratings(Protocol):
    async def lock_book(self, book_id: UUID) -> None:
        """Hold the book's rating totals until the transaction ends: changes of one book's ratings queue."""

    async def get(self, book_id: UUID, customer_id: str) -> CustomerRating | None: ...

    async def put(self, rating: CustomerRating) -> None: ...

    async def refresh_totals(self, book_id: UUID) -> None:
        """Recompute the book's count and sum of stars from the ratings that count."""


class Reads(Protocol):
    async def browse_books(self, query: BrowseBooks) -> Slice[BookView]: ...

    async def book(self, book_id: UUID) -> BookView | None: ...

    async def authors(self, query: ListParties) -> Slice[PartyView]: ...

    async def author(self, author_id: UUID) -> PartyView | None: ...

    async def categories(self, query: ListParties) -> Slice[PartyView]: ...

    async def category(self, category_id: UUID) -> PartyView | None: ...

    async def publishers(self, query: ListParties) -> Slice[PartyView]: ...

    async def publisher(self, publisher_id: UUID) -> PartyView | None: ...


class CatalogUow(Protocol):
    """The unit of work as the use cases see it: repositories on one transaction, and its commit."""

    @property
    def books(self) -> Books: ...

    @property
    def authors(self) -> Authors: ...

    @property
    def categories(self) -> Categories: ...

    @property
    def publishers(self) -> Publishers: ...

    @property
    def reservations(self) -> Reservations: ...

    @property
    def ratings(self) -> Ratings: ...

    @property
    def reads(self) -> Reads: ...

    def track(self, aggregate: Any) -> None: ...

    async def commit(self) -> None: ...
