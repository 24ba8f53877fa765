"""Why rating refuses a request: each broken rule has its own error."""

from __future__ import annotations

from uuid import UUID


class DomainError(ValueError):
    """A rule of rating was broken; ``field`` names the input at fault when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidStars(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__(message, field="stars")


class InvalidComment(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__(message, field="comment")


class InvalidCustomer(DomainError):
    pass


class BookUnavailable(DomainError):
    """Feedback cannot be given on this book (the subclasses say why)."""

    def __init__(self, message: str, book_id: UUID) -> None:
        super().__init__(message)
        self.book_id = book_id


class UnknownBook(BookUnavailable):
    """Rating has not heard of this book from the catalog (it may not exist, or its news is on the way)."""

    def __init__(self, book_id: UUID) -> None:
        super().__init__(f"book {book_id} is not in the catalog", book_id)


class BookWithdrawn(BookUnavailable):
    """The catalog deleted this book: it takes no more feedback."""

    def __init__(self, book_id: UUID) -> None:
        super().__init__(f"book {book_id} was removed from the catalog", book_id)


class NoFeedback(DomainError):
    """The customer has no feedback on this book (never gave any, or deleted it)."""

    def __init__(self, book_id: UUID) -> None:
        super().__init__(f"you have no feedback on book {book_id}")
        self.book_id = book_id
