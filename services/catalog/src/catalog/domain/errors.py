"""Why the catalog refuses a change: each rule broken has its own error."""

from __future__ import annotations

from uuid import UUID


class DomainError(ValueError):
    """A rule of the catalog was broken; ``field`` names the input at fault when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidIsbn(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__(message, field="isbn")


class InvalidMoney(DomainError):
    pass


class CurrencyMismatch(DomainError):
    pass


class InvalidName(DomainError):
    pass


class InvalidQuantity(DomainError):
    pass


class InvalidReservation(DomainError):
    pass


class BookIsDeleted(DomainError):
    """The book was removed from the catalog: it can no longer change."""

    def __init__(self, book_id: UUID) -> None:
        super().__init__(f"book {book_id} is deleted")
        self.book_id = book_id


class NotEnoughStock(DomainError):
    def __init__(self, book_id: UUID, requested: int, available: int) -> None:
        super().__init__(f"book {book_id}: {requested} requested, {available} in stock", field="quantity")
        self.book_id = book_id
        self.requested = requested
        self.available = available
