from uuid import UUID, uuid4

import pytest

from catalog.domain.book import Book
from catalog.domain.errors import CurrencyMismatch, InvalidReservation
from catalog.domain.events import (
    Rejection,
    ReleasedLine,
    ReservedLine,
    StockReleased,
    StockReservationRejected,
    StockReserved,
)
from catalog.domain.isbn import Isbn
from catalog.domain.money import Money
from catalog.domain.reservation import RequestedLine, ReservationStatus, StockReservation


def a_book(stock: int, price: str = "10.00", currency: str = "EUR") -> Book:
    book = Book.create(isbn=Isbn("9780306406157"), title="T", price=Money.of(price, currency), stock=stock)
    book.events.clear()
    return book


def shelf(*books: Book) -> dict[UUID, Book]:
    return {book.id: book for book in books}


def test_a_reservation_holds_every_line_at_current_prices() -> None:
    first, second = a_book(5, "10.00"), a_book(1, "2.50")
    order = uuid4()
    reservation = StockReservation.place(
        order, [RequestedLine(first.id, 2), RequestedLine(second.id, 1)], shelf(first, second)
    )
    assert reservation.status is ReservationStatus.HELD
    assert (first.stock, second.stock) == (3, 0)
    assert reservation.events == [
        StockReserved(
            order,
            (
                ReservedLine(first.id, 2, Money.of("10.00", "EUR")),
                ReservedLine(second.id, 1, Money.of("2.50", "EUR")),
            ),
            Money.of("22.50", "EUR"),
        )
    ]


def test_one_line_out_of_stock_rejects_the_whole_order_and_holds_nothing() -> None:
    plenty, scarce = a_book(5), a_book(1)
    order = uuid4()
    reservation = StockReservation.place(
        order, [RequestedLine(plenty.id, 2), RequestedLine(scarce.id, 3)], shelf(plenty, scarce)
    )
    assert reservation.status is ReservationStatus.REJECTED
    assert (plenty.stock, scarce.stock) == (5, 1)
    assert reservation.events == [
        StockReservationRejected(order, (Rejection(scarce.id, "out_of_stock", 3, 1),))
    ]


def test_unknown_and_deleted_books_are_rejected_with_their_reason() -> None:
    gone = a_book(5)
    gone.delete()
    unknown = uuid4()
    reservation = StockReservation.place(
        uuid4(), [RequestedLine(unknown, 1), RequestedLine(gone.id, 1)], shelf(gone)
    )
    (event,) = reservation.events
    assert isinstance(event, StockReservationRejected)
    assert event.reasons == (
        Rejection(unknown, "unknown_book", 1, 0),
        Rejection(gone.id, "book_deleted", 1, 0),
    )


def test_a_reservation_can_take_the_last_copy() -> None:
    book = a_book(2)
    StockReservation.place(uuid4(), [RequestedLine(book.id, 2)], shelf(book))
    assert book.stock == 0


@pytest.mark.parametrize(
    "lines",
    [
        [],
        [RequestedLine(UUID(int=1), 0)],
        [RequestedLine(UUID(int=1), 1), RequestedLine(UUID(int=1), 2)],
    ],
)
def test_a_malformed_request_is_refused(lines: list[RequestedLine]) -> None:
    with pytest.raises(InvalidReservation):
        StockReservation.place(uuid4(), lines, {})


def test_books_in_different_currencies_cannot_share_a_reservation_and_nothing_is_held() -> None:
    euros, dollars = a_book(5, currency="EUR"), a_book(5, currency="USD")
    with pytest.raises(CurrencyMismatch):
        StockReservation.place(
            uuid4(), [RequestedLine(euros.id, 1), RequestedLine(dollars.id, 1)], shelf(euros, dollars)
        )
    assert (euros.stock, dollars.stock) == (5, 5)


def test_a_repeated_request_gets_the_same_answer_and_holds_nothing_more() -> None:
    book = a_book(5)
    reservation = StockReservation.place(uuid4(), [RequestedLine(book.id, 2)], shelf(book))
    first = reservation.events.pop()
    reservation.answer_again()
    assert reservation.events == [first]
    assert book.stock == 3


def test_a_rejection_is_repeated_as_the_same_rejection() -> None:
    book = a_book(1)
    reservation = StockReservation.place(uuid4(), [RequestedLine(book.id, 2)], shelf(book))
    first = reservation.events.pop()
    book.restock(10)
    reservation.answer_again()
    assert reservation.events == [first]


def test_releasing_gives_the_copies_back_once() -> None:
    book = a_book(5)
    order = uuid4()
    reservation = StockReservation.place(order, [RequestedLine(book.id, 2)], shelf(book))
    reservation.events.clear()
    reservation.release(shelf(book))
    reservation.release(shelf(book))
    assert book.stock == 5
    assert reservation.status is ReservationStatus.RELEASED
    assert reservation.events == [
        StockReleased(order, released=True, lines=(ReleasedLine(book.id, 2),)),
        StockReleased(order, released=False, lines=()),
    ]


def test_releasing_a_rejected_reservation_answers_that_nothing_was_held() -> None:
    book = a_book(0)
    order = uuid4()
    reservation = StockReservation.place(order, [RequestedLine(book.id, 1)], shelf(book))
    reservation.events.clear()
    reservation.release(shelf(book))
    assert reservation.events == [StockReleased(order, released=False, lines=())]
    assert book.stock == 0


def test_a_release_before_any_reservation_blocks_a_late_request_from_holding_stock() -> None:
    order = uuid4()
    tombstone = StockReservation.released_before_placed(order)
    assert tombstone.events == [StockReleased(order, released=False, lines=())]
    tombstone.events.clear()
    tombstone.answer_again()
    assert tombstone.events == [StockReleased(order, released=False, lines=())]
    assert tombstone.held_quantities == {}


def test_a_released_reservation_still_answers_a_repeated_request_as_it_first_did() -> None:
    book = a_book(5)
    reservation = StockReservation.place(uuid4(), [RequestedLine(book.id, 1)], shelf(book))
    first = reservation.events.pop()
    reservation.release(shelf(book))
    reservation.events.clear()
    reservation.answer_again()
    assert reservation.events == [first]
    assert book.stock == 5
