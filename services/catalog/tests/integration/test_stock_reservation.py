import asyncio
import random
from collections.abc import Coroutine
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from catalog.adapters.tables import books, stock_reservation_lines, stock_reservations
from catalog.application import book_handlers, stock_handlers
from catalog.application.commands import DeleteBook, ReleaseStock, ReserveStock, RestockBook
from catalog.domain.reservation import RequestedLine

pytestmark = pytest.mark.integration


async def all_at_once(*work: Coroutine[Any, Any, None], within: float = 60) -> None:
    """Run ``work`` concurrently; the first failure cancels the rest, so nothing outlives the test."""
    async with asyncio.timeout(within), asyncio.TaskGroup() as group:
        for each in work:
            group.create_task(each)


def reserve(order_id: UUID, *lines: tuple[UUID, int]) -> ReserveStock:
    return ReserveStock(order_id, tuple(RequestedLine(book, quantity) for book, quantity in lines))


async def stock_of(engine: AsyncEngine, book_id: UUID) -> int:
    async with engine.connect() as connection:
        return int(
            (await connection.execute(select(books.c.stock).where(books.c.id == book_id))).scalar_one()
        )


async def held_of(engine: AsyncEngine, book_id: UUID) -> int:
    statement = (
        select(func.coalesce(func.sum(stock_reservation_lines.c.quantity), 0))
        .join(stock_reservations, stock_reservations.c.order_id == stock_reservation_lines.c.order_id)
        .where(stock_reservation_lines.c.book_id == book_id, stock_reservations.c.status == "held")
    )
    async with engine.connect() as connection:
        return int((await connection.execute(statement)).scalar_one())


async def test_a_reservation_holds_every_line_and_answers_with_catalog_prices(
    seed: Any, uow_factory: Any, engine: AsyncEngine, outbox_messages: Any
) -> None:
    first = await seed.book("First", stock=5, price="10.00")
    second = await seed.book("Second", stock=2, price="2.50")
    order = uuid4()
    async with uow_factory() as uow:
        await stock_handlers.reserve_stock(reserve(order, (first, 2), (second, 2)), uow)
        await uow.commit()

    assert (await stock_of(engine, first), await stock_of(engine, second)) == (3, 0)
    (answer,) = await outbox_messages.messages("stock-reserved")
    assert answer["order_id"] == str(order)
    assert answer["lines"] == [
        {"book_id": str(first), "quantity": 2, "unit_price": {"amount": "10.00", "currency": "EUR"}},
        {"book_id": str(second), "quantity": 2, "unit_price": {"amount": "2.50", "currency": "EUR"}},
    ]
    assert answer["total"] == {"amount": "25.00", "currency": "EUR"}
    assert answer["_headers"]["correlation_id"] == str(order)


async def test_one_line_short_rejects_the_order_with_every_reason_and_holds_nothing(
    seed: Any, uow_factory: Any, engine: AsyncEngine, outbox_messages: Any
) -> None:
    plenty = await seed.book("Plenty", stock=5)
    scarce = await seed.book("Scarce", stock=1)
    gone = await seed.book("Gone", stock=5)
    async with uow_factory() as uow:
        await book_handlers.delete_book(DeleteBook(gone), uow)
        await uow.commit()
    unknown = uuid4()
    order = uuid4()
    async with uow_factory() as uow:
        await stock_handlers.reserve_stock(
            reserve(order, (plenty, 1), (scarce, 3), (gone, 1), (unknown, 1)), uow
        )
        await uow.commit()

    assert (await stock_of(engine, plenty), await stock_of(engine, scarce)) == (5, 1)
    (answer,) = await outbox_messages.messages("stock-reservation-rejected")
    assert answer["reasons"] == [
        {"book_id": str(scarce), "reason": "out_of_stock", "requested": 3, "available": 1},
        {"book_id": str(gone), "reason": "book_deleted", "requested": 1, "available": 0},
        {"book_id": str(unknown), "reason": "unknown_book", "requested": 1, "available": 0},
    ]


async def test_a_repeated_reserve_stock_gets_the_same_answer_and_holds_nothing_more(
    seed: Any, uow_factory: Any, engine: AsyncEngine, outbox_messages: Any
) -> None:
    book = await seed.book(stock=5)
    order = uuid4()
    for _ in range(3):
        async with uow_factory() as uow:
            await stock_handlers.reserve_stock(reserve(order, (book, 2)), uow)
            await uow.commit()

    assert await stock_of(engine, book) == 3
    answers = await outbox_messages.messages("stock-reserved")
    assert len(answers) == 3
    assert all(
        {k: v for k, v in a.items() if k != "_headers"}
        == {k: v for k, v in answers[0].items() if k != "_headers"}
        for a in answers
    )


async def test_a_repeated_rejection_stays_a_rejection_after_a_restock(
    seed: Any, uow_factory: Any, engine: AsyncEngine, outbox_messages: Any
) -> None:
    book = await seed.book(stock=0)
    order = uuid4()
    async with uow_factory() as uow:
        await stock_handlers.reserve_stock(reserve(order, (book, 1)), uow)
        await uow.commit()
    async with uow_factory() as uow:
        await book_handlers.restock_book(RestockBook(book, 5), uow)
        await uow.commit()
    async with uow_factory() as uow:
        await stock_handlers.reserve_stock(reserve(order, (book, 1)), uow)
        await uow.commit()
    assert len(await outbox_messages.messages("stock-reservation-rejected")) == 2
    assert await stock_of(engine, book) == 5


async def test_release_gives_the_stock_back_once_and_always_answers(
    seed: Any, uow_factory: Any, engine: AsyncEngine, outbox_messages: Any
) -> None:
    book = await seed.book(stock=5)
    order = uuid4()
    async with uow_factory() as uow:
        await stock_handlers.reserve_stock(reserve(order, (book, 2)), uow)
        await uow.commit()
    for _ in range(2):
        async with uow_factory() as uow:
            await stock_handlers.release_stock(ReleaseStock(order, "customer cancelled"), uow)
            await uow.commit()

    assert await stock_of(engine, book) == 5
    first, second = await outbox_messages.messages("stock-released")
    assert (first["released"], first["lines"]) == (True, [{"book_id": str(book), "quantity": 2}])
    assert (second["released"], second["lines"]) == (False, [])


async def test_releasing_an_order_never_reserved_answers_and_blocks_a_late_reservation(
    seed: Any, uow_factory: Any, engine: AsyncEngine, outbox_messages: Any
) -> None:
    book = await seed.book(stock=5)
    order = uuid4()
    async with uow_factory() as uow:
        await stock_handlers.release_stock(ReleaseStock(order, "saga gave up"), uow)
        await uow.commit()
    async with uow_factory() as uow:
        await stock_handlers.reserve_stock(reserve(order, (book, 2)), uow)
        await uow.commit()

    assert await stock_of(engine, book) == 5
    assert [m["released"] for m in await outbox_messages.messages("stock-released")] == [False, False]
    assert await outbox_messages.messages("stock-reserved") == []


async def test_releasing_a_rejected_reservation_gives_nothing_back(
    seed: Any, uow_factory: Any, engine: AsyncEngine, outbox_messages: Any
) -> None:
    book = await seed.book(stock=1)
    order = uuid4()
    async with uow_factory() as uow:
        await stock_handlers.reserve_stock(reserve(order, (book, 2)), uow)
        await uow.commit()
    async with uow_factory() as uow:
        await stock_handlers.release_stock(ReleaseStock(order, "rejected"), uow)
        await uow.commit()
    assert await stock_of(engine, book) == 1
    (released,) = await outbox_messages.messages("stock-released")
    assert released["released"] is False


async def test_fifty_concurrent_orders_for_ten_copies_reserve_exactly_ten_without_deadlock(
    seed: Any, uow_factory: Any, engine: AsyncEngine, outbox_messages: Any
) -> None:
    scarce = await seed.book("Scarce", stock=10)
    plentiful = await seed.book("Plentiful", stock=1000)
    orders = [uuid4() for _ in range(50)]

    async def place(order: UUID) -> None:
        lines = [(scarce, 1), (plentiful, 2)]
        # Lines in either order: a naive lock order would deadlock here.
        random.shuffle(lines)
        async with uow_factory() as uow:
            await stock_handlers.reserve_stock(reserve(order, *lines), uow)
            await uow.commit()

    await all_at_once(*(place(order) for order in orders))

    reserved = await outbox_messages.messages("stock-reserved")
    rejected = await outbox_messages.messages("stock-reservation-rejected")
    assert (len(reserved), len(rejected)) == (10, 40)
    assert await stock_of(engine, scarce) == 0
    assert await stock_of(engine, scarce) + await held_of(engine, scarce) == 10
    assert await stock_of(engine, plentiful) + await held_of(engine, plentiful) == 1000
    assert await held_of(engine, plentiful) == 20
    assert all(r["reasons"][0]["reason"] == "out_of_stock" for r in rejected)


async def test_concurrent_reservations_and_releases_keep_stock_plus_held_constant(
    seed: Any, uow_factory: Any, engine: AsyncEngine
) -> None:
    book = await seed.book(stock=10)
    orders = [uuid4() for _ in range(30)]

    async def reserve_then_maybe_release(index: int, order: UUID) -> None:
        async with uow_factory() as uow:
            await stock_handlers.reserve_stock(reserve(order, (book, 1)), uow)
            await uow.commit()
        if index % 2:
            async with uow_factory() as uow:
                await stock_handlers.release_stock(ReleaseStock(order, "cancelled"), uow)
                await uow.commit()

    await all_at_once(*(reserve_then_maybe_release(i, o) for i, o in enumerate(orders)))
    assert await stock_of(engine, book) + await held_of(engine, book) == 10


async def test_twin_reserve_stock_commands_for_one_order_racing_hold_it_once(
    seed: Any, uow_factory: Any, engine: AsyncEngine, outbox_messages: Any
) -> None:
    book = await seed.book(stock=10)
    order = uuid4()

    async def attempt() -> None:
        async with uow_factory() as uow:
            await stock_handlers.reserve_stock(reserve(order, (book, 3)), uow)
            await uow.commit()

    await all_at_once(*(attempt() for _ in range(5)))
    assert await stock_of(engine, book) == 7
    assert len(await outbox_messages.messages("stock-reserved")) == 5


async def test_twin_release_stock_commands_for_an_order_never_reserved_racing_both_answer(
    seed: Any, uow_factory: Any, engine: AsyncEngine, outbox_messages: Any
) -> None:
    # Two workers each take one ReleaseStock of a saga that gave up: neither finds a reservation to lock.
    book = await seed.book(stock=5)
    order = uuid4()

    async def release() -> None:
        async with uow_factory() as uow:
            await stock_handlers.release_stock(ReleaseStock(order, "saga gave up"), uow)
            await uow.commit()

    async def late_reserve() -> None:
        async with uow_factory() as uow:
            await stock_handlers.reserve_stock(reserve(order, (book, 2)), uow)
            await uow.commit()

    await all_at_once(*(release() for _ in range(5)), late_reserve())
    released = [m["released"] for m in await outbox_messages.messages("stock-released")]
    reserved = await outbox_messages.messages("stock-reserved")
    # Whichever came first, every command is answered and the stock ends where it began.
    assert len(released) == 5 + (0 if reserved else 1)
    assert await stock_of(engine, book) == 5
    assert await held_of(engine, book) == 0
