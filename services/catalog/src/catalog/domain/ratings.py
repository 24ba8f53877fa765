"""A customer's rating of a book as the catalog knows it, from rating's events: the highest version wins."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from catalog.domain.errors import DomainError


@dataclass(frozen=True, slots=True)
class CustomerRating:
    """The latest known state of one customer's feedback on one book; ``deleted`` once withdrawn.

    Rating numbers every change of a customer's feedback on a book; whatever order changes arrive in,
    keeping the one with the highest version converges on rating's own state.
    """

    book_id: UUID
    customer_id: str
    feedback_id: UUID
    # None once withdrawn.
    stars: int | None
    version: int

    def __post_init__(self) -> None:
        if self.stars is not None and not 1 <= self.stars <= 5:
            raise DomainError("stars are 1 to 5", field="stars")
        if self.version < 1:
            raise DomainError("a version starts at 1", field="version")

    @classmethod
    def withdrawn(cls, book_id: UUID, customer_id: str, feedback_id: UUID, version: int) -> CustomerRating:
        """A deletion, remembered with its version so that an older submission arriving late stays ignored."""
        return cls(book_id, customer_id, feedback_id, None, version)

    def supersedes(self, current: CustomerRating | None) -> bool:
        return current is None or self.version > current.version

    @property
    def deleted(self) -> bool:
        return self.stars is None
