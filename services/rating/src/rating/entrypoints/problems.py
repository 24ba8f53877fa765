"""Rating's refusals as problem details.

A book rating has not heard of, or one the catalog deleted, answers 404 (the book is in the path, and for
rating it is not there), with a ``type`` telling the two apart: a client seeing ``unknown-book`` for a book
it just created may retry shortly, as rating learns of new books from the catalog's events.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from chassis import ProblemError, invalid_field
from rating.domain.errors import BookWithdrawn, DomainError, NoFeedback, UnknownBook

PROBLEMS = "https://folio.example/problems"
UNKNOWN_BOOK = f"{PROBLEMS}/unknown-book"
BOOK_DELETED = f"{PROBLEMS}/book-deleted"
NO_FEEDBACK = f"{PROBLEMS}/no-feedback"


@contextmanager
def as_problems() -> Iterator[None]:
    """Turn rating's errors raised in the block into 404 or 422 problem details."""
    try:
        yield
    except UnknownBook as error:
        raise ProblemError(
            404, "Unknown Book", f"{error}.", UNKNOWN_BOOK, book_id=str(error.book_id)
        ) from error
    except BookWithdrawn as error:
        raise ProblemError(
            404, "Book Deleted", f"{error}.", BOOK_DELETED, book_id=str(error.book_id)
        ) from error
    except NoFeedback as error:
        raise ProblemError(
            404, "No Feedback", f"{error}.", NO_FEEDBACK, book_id=str(error.book_id)
        ) from error
    except DomainError as error:
        raise invalid_field(error.field, str(error)) from error
