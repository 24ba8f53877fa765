"""The books rating knows of: a replica fed only by the catalog's BookCreated and BookDeleted events.

Events may arrive in any order and more than once. Deletion is final in the catalog, so here it wins:
a BookDeleted that arrives before its BookCreated leaves a tombstone, and the late BookCreated does not
bring the book back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from rating.domain.errors import BookWithdrawn, UnknownBook


@dataclass(eq=False)
class KnownBook:
    id: UUID
    # When the catalog created it; None while only its deletion has been heard of.
    created_at: datetime | None
    deleted_at: datetime | None = None

    @classmethod
    def created(cls, book_id: UUID, at: datetime) -> KnownBook:
        return cls(id=book_id, created_at=at)

    @classmethod
    def tombstone(cls, book_id: UUID, at: datetime) -> KnownBook:
        """A book heard of first through its deletion."""
        return cls(id=book_id, created_at=None, deleted_at=at)

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    def record_created(self, at: datetime) -> bool:
        """False when the creation was already known (a duplicate)."""
        if self.created_at is not None:
            return False
        self.created_at = at
        return True

    def record_deleted(self, at: datetime) -> bool:
        """False when the deletion was already known (a duplicate)."""
        if self.deleted_at is not None:
            return False
        self.deleted_at = at
        return True

    def ensure_open_for_feedback(self) -> None:
        if self.deleted:
            raise BookWithdrawn(self.id)


def open_for_feedback(book_id: UUID, book: KnownBook | None) -> KnownBook:
    """The book, if feedback may be given on it; otherwise why not (UnknownBook or BookWithdrawn)."""
    if book is None:
        raise UnknownBook(book_id)
    book.ensure_open_for_feedback()
    return book
