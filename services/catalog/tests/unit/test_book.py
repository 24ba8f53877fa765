from uuid import uuid4

import pytest

from catalog.domain.book import Book
from catalog.domain.errors import BookIsDeleted, DomainError, InvalidName, InvalidQuantity, NotEnoughStock
from catalog.domain.events import BookCreated, BookDeleted, BookRestocked, BookUpdated
from catalog.domain.isbn import Isbn
from catalog.domain.money import Money
from catalog.domain.parties import AuthorRef, CategoryRef

LE_GUIN = AuthorRef(uuid4(), "Ursula K. Le Guin")
TOLKIEN = AuthorRef(uuid4(), "J. R. R. Tolkien")
FANTASY = CategoryRef(uuid4(), "Fantasy")


def a_book(stock: int = 5) -> Book:
    return Book.create(
        isbn=Isbn("9780306406157"),
        title="A Wizard of Earthsea",
        description="A boy with a gift.",
        price=Money.of("9.99", "EUR"),
        stock=stock,
        authors=[LE_GUIN],
        category=FANTASY,
    )


def test_creating_a_book_records_book_created_with_names_and_price() -> None:
    book = a_book()
    (event,) = book.events
    assert event == BookCreated(
        book_id=book.id,
        isbn="9780306406157",
        title="A Wizard of Earthsea",
        author_names=("Ursula K. Le Guin",),
        category="Fantasy",
        price=Money.of("9.99", "EUR"),
        occurred_at=book.created_at,
    )


def test_a_book_needs_a_title() -> None:
    with pytest.raises(InvalidName) as refused:
        Book.create(isbn=Isbn("9780306406157"), title=" ", price=Money.of("1", "EUR"))
    assert refused.value.field == "title"


def test_a_book_cannot_start_with_negative_stock() -> None:
    with pytest.raises(InvalidQuantity) as refused:
        a_book(stock=-1)
    assert refused.value.field == "stock"


def test_an_author_cannot_appear_twice_on_a_book() -> None:
    with pytest.raises(DomainError) as refused:
        Book.create(
            isbn=Isbn("9780306406157"), title="T", price=Money.of("1", "EUR"), authors=[LE_GUIN, LE_GUIN]
        )
    assert refused.value.field == "author_ids"


def test_updating_a_book_records_its_whole_new_state_and_bumps_the_version() -> None:
    book = a_book()
    book.events.clear()
    assert book.update(price=Money.of("12.00", "EUR"), authors=[LE_GUIN, TOLKIEN], category=None)
    (event,) = book.events
    assert isinstance(event, BookUpdated)
    assert event.price == Money.of("12.00", "EUR")
    assert event.author_names == ("Ursula K. Le Guin", "J. R. R. Tolkien")
    assert event.category is None
    assert event.title == "A Wizard of Earthsea"
    assert book.version == 2


def test_an_update_that_changes_nothing_records_nothing() -> None:
    book = a_book()
    book.events.clear()
    assert not book.update(title="A Wizard of Earthsea", price=Money.of("9.990", "EUR"))
    assert book.events == []
    assert book.version == 1


def test_deleting_a_book_records_book_deleted_and_keeps_it_softly() -> None:
    book = a_book()
    book.events.clear()
    book.delete()
    assert book.is_deleted
    assert book.events == [BookDeleted(book.id, book.deleted_at)]  # type: ignore[arg-type]


def test_a_deleted_book_cannot_be_updated_restocked_deleted_or_reserved() -> None:
    book = a_book()
    book.delete()
    with pytest.raises(BookIsDeleted):
        book.update(title="Another")
    with pytest.raises(BookIsDeleted):
        book.restock(1)
    with pytest.raises(BookIsDeleted):
        book.delete()
    with pytest.raises(BookIsDeleted):
        book.take_stock(1)


def test_restocking_adds_copies_and_records_it_inside_the_catalog() -> None:
    book = a_book(stock=2)
    book.events.clear()
    book.restock(3)
    assert book.stock == 5
    assert book.events == [BookRestocked(book.id, 3, 5, book.events[0].occurred_at)]


@pytest.mark.parametrize("quantity", [0, -1])
def test_restocking_needs_at_least_one_copy(quantity: int) -> None:
    with pytest.raises(InvalidQuantity):
        a_book().restock(quantity)


def test_taking_more_stock_than_there_is_is_refused_and_changes_nothing() -> None:
    book = a_book(stock=2)
    with pytest.raises(NotEnoughStock) as refused:
        book.take_stock(3)
    assert (refused.value.requested, refused.value.available) == (3, 2)
    assert book.stock == 2


def test_stock_goes_back_even_to_a_book_deleted_since() -> None:
    book = a_book(stock=2)
    book.take_stock(2)
    book.delete()
    book.return_stock(2)
    assert book.stock == 2
