"""Stock held for an order: every line or none, one reservation per order, given back at most once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

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
from catalog.domain.identity import utcnow
from catalog.domain.money import Money


class ReservationStatus(StrEnum):
    HELD = "held"
    REJECTED = "rejected"
    RELEASED = "released"


@dataclass(frozen=True, slots=True)
class RequestedLine:
    book_id: UUID
    quantity: int


def check_request(lines: Sequence[RequestedLine]) -> tuple[RequestedLine, ...]:
    if not lines:
        raise InvalidReservation("a reservation needs at least one line", field="lines")
    seen: set[UUID] = set()
    for line in lines:
        if isinstance(line.quantity, bool) or not isinstance(line.quantity, int) or line.quantity < 1:
            raise InvalidReservation(f"book {line.book_id}: quantity must be at least 1", field="lines")
        if line.book_id in seen:
            raise InvalidReservation(f"book {line.book_id} appears on more than one line", field="lines")
        seen.add(line.book_id)
    return tuple(lines)


def _rejection(line: RequestedLine, book: Book | None) -> Rejection | None:
    if book is None:
        return Rejection(line.book_id, "unknown_book", line.quantity, 0)
    if book.is_deleted:
        return Rejection(line.book_id, "book_deleted", line.quantity, 0)
    if book.stock < line.quantity:
        return Rejection(line.book_id, "out_of_stock", line.quantity, book.stock)
    return None


def total_of(lines: Sequence[ReservedLine]) -> Money:
    currencies = {line.unit_price.currency for line in lines}
    if len(currencies) != 1:
        raise CurrencyMismatch(f"a reservation is priced in one currency, not {sorted(currencies)}")
    total = Money.zero(currencies.pop())
    for line in lines:
        total = total + line.subtotal
    return total


@dataclass(eq=False)
class StockReservation:
    """The catalog's answer to an order's ReserveStock, kept so that a repeated request gets it again."""

    order_id: UUID
    status: ReservationStatus
    lines: tuple[ReservedLine, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    created_at: datetime = field(default_factory=utcnow)
    released_at: datetime | None = None
    events: list[Any] = field(default_factory=list)

    @classmethod
    def place(
        cls, order_id: UUID, requested: Sequence[RequestedLine], books: Mapping[UUID, Book]
    ) -> StockReservation:
        """Hold every requested line, taking the copies from ``books``, or hold nothing and say why.

        ``books`` holds the requested books the catalog knows (deleted ones included); the caller must
        have them to itself (locked) for as long as the reservation is being placed.
        """
        lines = check_request(requested)
        rejections = tuple(
            rejection
            for line in lines
            if (rejection := _rejection(line, books.get(line.book_id))) is not None
        )
        if rejections:
            reservation = cls(order_id, ReservationStatus.REJECTED, rejections=rejections)
        else:
            reserved = tuple(
                ReservedLine(line.book_id, line.quantity, books[line.book_id].price) for line in lines
            )
            total_of(reserved)
            for line in lines:
                books[line.book_id].take_stock(line.quantity)
            reservation = cls(order_id, ReservationStatus.HELD, lines=reserved)
        reservation.events.append(reservation.answer())
        return reservation

    @classmethod
    def released_before_placed(cls, order_id: UUID) -> StockReservation:
        """ReleaseStock came before any ReserveStock for the order (a saga that gave up early).

        Kept as a released reservation so that a ReserveStock arriving late holds nothing for an order
        nobody will release again.
        """
        reservation = cls(order_id, ReservationStatus.RELEASED, released_at=utcnow())
        reservation.events.append(StockReleased(order_id, released=False, lines=()))
        return reservation

    @property
    def total(self) -> Money | None:
        return total_of(self.lines) if self.lines else None

    def answer(self) -> StockReserved | StockReservationRejected | StockReleased:
        """What the catalog answers ReserveStock for this order, the first time and every time after."""
        if self.lines:
            return StockReserved(self.order_id, self.lines, total_of(self.lines))
        if self.rejections:
            return StockReservationRejected(self.order_id, self.rejections)
        # Released before it was ever placed: nothing is held, and nothing ever will be.
        return StockReleased(self.order_id, released=False, lines=())

    def answer_again(self) -> None:
        """A repeated ReserveStock: the same answer, and nothing more held."""
        self.events.append(self.answer())

    def release(self, books: Mapping[UUID, Book]) -> None:
        """Give the held copies back to ``books`` (locked by the caller) once; always answer StockReleased."""
        if self.status is not ReservationStatus.HELD:
            self.events.append(StockReleased(self.order_id, released=False, lines=()))
            return
        for line in self.lines:
            book = books.get(line.book_id)
            if book is None:
                raise InvalidReservation(f"book {line.book_id} held for order {self.order_id} is missing")
            book.return_stock(line.quantity)
        self.status = ReservationStatus.RELEASED
        self.released_at = utcnow()
        released = tuple(ReleasedLine(line.book_id, line.quantity) for line in self.lines)
        self.events.append(StockReleased(self.order_id, released=True, lines=released))

    @property
    def held_quantities(self) -> dict[UUID, int]:
        if self.status is not ReservationStatus.HELD:
            return {}
        return {line.book_id: line.quantity for line in self.lines}
