from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from rating.domain.books import KnownBook, open_for_feedback
from rating.domain.errors import BookWithdrawn, UnknownBook

BOOK = uuid4()
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)


def test_a_created_book_takes_feedback() -> None:
    book = KnownBook.created(BOOK, T0)
    assert open_for_feedback(BOOK, book) is book


def test_an_unknown_book_takes_no_feedback() -> None:
    with pytest.raises(UnknownBook) as raised:
        open_for_feedback(BOOK, None)
    assert raised.value.book_id == BOOK
    assert "not in the catalog" in str(raised.value)


def test_a_deleted_book_takes_no_feedback() -> None:
    book = KnownBook.created(BOOK, T0)
    assert book.record_deleted(T1) is True
    with pytest.raises(BookWithdrawn) as raised:
        open_for_feedback(BOOK, book)
    assert "removed from the catalog" in str(raised.value)


def test_a_repeated_creation_or_deletion_is_a_duplicate() -> None:
    book = KnownBook.created(BOOK, T0)
    assert book.record_created(T0) is False
    assert book.record_deleted(T1) is True
    assert book.record_deleted(T1) is False
    assert book.deleted_at == T1


def test_a_deletion_heard_before_the_creation_leaves_a_tombstone_the_creation_does_not_undo() -> None:
    book = KnownBook.tombstone(BOOK, T1)
    assert book.deleted
    assert book.record_created(T0) is True
    assert book.created_at == T0
    assert book.deleted
    with pytest.raises(BookWithdrawn):
        open_for_feedback(BOOK, book)
