"""Reserve and release stock for the order saga: all lines or none, once per order, safe under concurrency."""

from __future__ import annotations

from catalog.application.commands import ReleaseStock, ReserveStock
from catalog.application.ports import CatalogUow
from catalog.domain.reservation import StockReservation, check_request


async def _answer_again(reservation: StockReservation, uow: CatalogUow) -> StockReservation:
    reservation.answer_again()
    uow.track(reservation)
    return reservation


async def reserve_stock(command: ReserveStock, uow: CatalogUow) -> StockReservation:
    """Answer with StockReserved or StockReservationRejected; a repeat gets the first answer again."""
    lines = check_request(command.lines)
    # Always the order first, then its books: a twin ReserveStock or a ReleaseStock for the order waits
    # here, and sees what the first one committed.
    await uow.reservations.lock_order(command.order_id)
    existing = await uow.reservations.get(command.order_id)
    if existing is not None:
        return await _answer_again(existing, uow)
    # Held until commit, taken in id order: concurrent orders for the same books queue here, and never
    # each hold a book the other waits for.
    books = await uow.books.lock_many([line.book_id for line in lines])
    reservation = StockReservation.place(command.order_id, lines, books)
    await uow.books.save_all(books.values())
    await uow.reservations.add(reservation)
    uow.track(reservation)
    return reservation


async def release_stock(command: ReleaseStock, uow: CatalogUow) -> StockReservation:
    """Give back what is held for the order, once; always answered by StockReleased."""
    await uow.reservations.lock_order(command.order_id)
    reservation = await uow.reservations.get(command.order_id)
    if reservation is None:
        reservation = StockReservation.released_before_placed(command.order_id)
        await uow.reservations.add(reservation)
    else:
        books = await uow.books.lock_many(list(reservation.held_quantities))
        reservation.release(books)
        await uow.books.save_all(books.values())
        await uow.reservations.save(reservation)
    uow.track(reservation)
    return reservation
