"""Feedback: one customer's stars and comment on one book, numbered so that readers can order its changes.

There is at most one feedback per customer and book. A second submission replaces the first, a deletion
leaves a tombstone, and every change a reader can see bumps ``version``: the events carry it, so a
consumer keeps the highest version it has seen whatever order the events arrive in. Because the tombstone
keeps the counter, feedback given again after a deletion goes on numbering where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from rating.domain.errors import InvalidComment, InvalidCustomer, InvalidStars, NoFeedback
from rating.domain.events import FeedbackDeleted, FeedbackSubmitted
from rating.domain.identity import new_id, utcnow

MIN_STARS = 1
MAX_STARS = 5
# The longest comment FeedbackSubmitted carries.
MAX_COMMENT = 2000


def check_stars(stars: int) -> int:
    # bool is an int in Python: True must not pass as one star.
    if isinstance(stars, bool) or not isinstance(stars, int):
        raise InvalidStars("stars must be a whole number")
    if not MIN_STARS <= stars <= MAX_STARS:
        raise InvalidStars(f"stars must be between {MIN_STARS} and {MAX_STARS}, not {stars}")
    return stars


def clean_comment(comment: str | None) -> str | None:
    """The comment without surrounding blanks; an empty one is no comment."""
    if comment is None:
        return None
    cleaned = comment.strip()
    if not cleaned:
        return None
    if len(cleaned) > MAX_COMMENT:
        raise InvalidComment(f"a comment has at most {MAX_COMMENT} characters, not {len(cleaned)}")
    return cleaned


def check_customer(customer_id: str) -> str:
    if not customer_id.strip():
        raise InvalidCustomer("a customer is needed")
    return customer_id


@dataclass(eq=False)
class Feedback:
    id: UUID
    book_id: UUID
    customer_id: str
    # None while deleted: a deleted comment is gone, only the counter and the verified flag remain.
    stars: int | None
    comment: str | None
    verified_purchase: bool
    version: int
    # When the current stars and comment were given.
    submitted_at: datetime
    deleted_at: datetime | None = None
    events: list[Any] = field(default_factory=list)

    @classmethod
    def submit(
        cls,
        *,
        book_id: UUID,
        customer_id: str,
        stars: int,
        comment: str | None = None,
        verified_purchase: bool = False,
        now: datetime | None = None,
    ) -> Feedback:
        """A customer's first feedback on a book."""
        feedback = cls(
            id=new_id(),
            book_id=book_id,
            customer_id=check_customer(customer_id),
            stars=check_stars(stars),
            comment=clean_comment(comment),
            verified_purchase=verified_purchase,
            version=1,
            submitted_at=now or utcnow(),
        )
        feedback._record_submitted()
        return feedback

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    def replace(self, *, stars: int, comment: str | None = None, now: datetime | None = None) -> bool:
        """Give new stars and comment (also after a deletion); False when nothing changes."""
        stars = check_stars(stars)
        comment = clean_comment(comment)
        if not self.deleted and (stars, comment) == (self.stars, self.comment):
            return False
        self.stars = stars
        self.comment = comment
        self.deleted_at = None
        self.submitted_at = now or utcnow()
        self.version += 1
        self._record_submitted()
        return True

    def delete(self, *, now: datetime | None = None) -> None:
        if self.deleted:
            raise NoFeedback(self.book_id)
        self.stars = None
        self.comment = None
        self.deleted_at = now or utcnow()
        self.version += 1
        self.events.append(
            FeedbackDeleted(
                feedback_id=self.id,
                book_id=self.book_id,
                customer_id=self.customer_id,
                version=self.version,
                deleted_at=self.deleted_at,
            )
        )

    def mark_verified(self) -> bool:
        """The customer bought the book; False when already known.

        Live feedback is announced again (a new version) so that readers learn the flag; a tombstone only
        keeps it for the feedback given again later.
        """
        if self.verified_purchase:
            return False
        self.verified_purchase = True
        if not self.deleted:
            self.version += 1
            self._record_submitted()
        return True

    def _record_submitted(self) -> None:
        assert self.stars is not None
        self.events.append(
            FeedbackSubmitted(
                feedback_id=self.id,
                book_id=self.book_id,
                customer_id=self.customer_id,
                stars=self.stars,
                comment=self.comment,
                verified_purchase=self.verified_purchase,
                version=self.version,
                submitted_at=self.submitted_at,
            )
        )
