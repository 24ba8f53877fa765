from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from catalog.application import book_handlers, queries
from catalog.application.commands import CreateBook, DeleteBook, PriceInput, RestockBook, UpdateBook
from catalog.application.errors import DuplicateIsbn, NotFound, UnknownReference
from catalog.domain.errors import InvalidIsbn, InvalidMoney

pytestmark = pytest.mark.integration


async def test_creating_a_book_stores_it_and_writes_book_created_to_the_outbox(
    seed: Any, uow_factory: Any, outbox_messages: Any
) -> None:
    author = await seed.author("Ursula K. Le Guin")
    second = await seed.author("Charles Vess")
    fantasy = await seed.category("Fantasy")
    publisher = await seed.publisher("Parnassus")
    book_id = await seed.book(
        "Tales from Earthsea",
        price="12.50",
        stock=3,
        authors=[author, second],
        category=fantasy,
        publisher=publisher,
        isbn="978-0-306-40615-7",
    )

    async with uow_factory() as uow:
        book = await queries.book_detail(book_id, uow)
    assert book.isbn == "9780306406157"
    assert book.author_names == ("Ursula K. Le Guin", "Charles Vess")
    assert (book.category, book.publisher, book.stock, book.in_stock) == ("Fantasy", "Parnassus", 3, True)
    (created,) = await outbox_messages.messages("book-created")
    assert created["book_id"] == str(book_id)
    assert created["author_names"] == ["Ursula K. Le Guin", "Charles Vess"]
    assert created["category"] == "Fantasy"
    assert created["price"] == {"amount": "12.50", "currency": "EUR"}
    assert created["_headers"]["cloudEvents_subject"] == str(book_id)


async def test_a_second_live_book_with_the_same_isbn_is_refused_and_nothing_is_written(
    seed: Any, outbox_messages: Any
) -> None:
    await seed.book(isbn="9780306406157")
    with pytest.raises(DuplicateIsbn):
        await seed.book("Another", isbn="978-0306406157")
    assert len(await outbox_messages.messages("book-created")) == 1


async def test_unknown_authors_category_or_publisher_are_refused_by_field(seed: Any) -> None:
    with pytest.raises(UnknownReference) as refused:
        await seed.book(authors=[uuid4()])
    assert refused.value.field == "author_ids"
    with pytest.raises(UnknownReference) as refused:
        await seed.book(category=uuid4())
    assert refused.value.field == "category_id"
    with pytest.raises(UnknownReference) as refused:
        await seed.book(publisher=uuid4())
    assert refused.value.field == "publisher_id"


async def test_an_invalid_isbn_or_price_is_refused_before_anything_is_stored(
    uow_factory: Any, outbox_messages: Any
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(InvalidIsbn):
            await book_handlers.create_book(
                CreateBook(isbn="9780306406158", title="T", price=PriceInput(Decimal(1), "EUR")), uow
            )
        with pytest.raises(InvalidMoney):
            await book_handlers.create_book(
                CreateBook(isbn="9780306406157", title="T", price=PriceInput(Decimal(-1), "EUR")), uow
            )
    assert await outbox_messages.count() == 0


async def test_updating_a_book_changes_only_what_is_given_and_writes_book_updated(
    seed: Any, uow_factory: Any, outbox_messages: Any
) -> None:
    fantasy = await seed.category("Fantasy")
    author = await seed.author("Tolkien")
    book_id = await seed.book("The Hobbit", category=fantasy, price="9.00")

    async with uow_factory() as uow:
        changed = await book_handlers.update_book(
            UpdateBook(
                book_id, price=PriceInput(Decimal("11.00"), "EUR"), author_ids=(author,), category_id=None
            ),
            uow,
        )
        await uow.commit()
    assert changed
    async with uow_factory() as uow:
        book = await queries.book_detail(book_id, uow)
    assert (book.title, book.price.amount, book.author_names, book.category) == (
        "The Hobbit",
        Decimal("11.00"),
        ("Tolkien",),
        None,
    )
    (updated,) = await outbox_messages.messages("book-updated")
    assert updated["price"] == {"amount": "11.00", "currency": "EUR"}
    assert updated["category"] is None
    assert updated["author_names"] == ["Tolkien"]


async def test_an_update_that_changes_nothing_writes_no_event(
    seed: Any, uow_factory: Any, outbox_messages: Any
) -> None:
    book_id = await seed.book("The Hobbit")
    async with uow_factory() as uow:
        assert not await book_handlers.update_book(UpdateBook(book_id, title="The Hobbit"), uow)
        await uow.commit()
    assert await outbox_messages.messages("book-updated") == []


async def test_changing_the_isbn_to_one_in_use_is_a_conflict(seed: Any, uow_factory: Any) -> None:
    await seed.book(isbn="9780306406157")
    other = await seed.book("Other")
    async with uow_factory() as uow:
        with pytest.raises(DuplicateIsbn):
            await book_handlers.update_book(UpdateBook(other, isbn="9780306406157"), uow)


async def test_deleting_a_book_hides_it_frees_its_isbn_and_writes_book_deleted(
    seed: Any, uow_factory: Any, outbox_messages: Any
) -> None:
    book_id = await seed.book(isbn="9780306406157")
    async with uow_factory() as uow:
        await book_handlers.delete_book(DeleteBook(book_id), uow)
        await uow.commit()

    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await queries.book_detail(book_id, uow)
        with pytest.raises(NotFound):
            await book_handlers.delete_book(DeleteBook(book_id), uow)
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await book_handlers.restock_book(RestockBook(book_id, 1), uow)
    (deleted,) = await outbox_messages.messages("book-deleted")
    assert deleted["book_id"] == str(book_id)
    # A new record may take the ISBN of a deleted one.
    await seed.book("New edition", isbn="9780306406157")


async def test_restocking_adds_copies_without_telling_other_services(
    seed: Any, uow_factory: Any, outbox_messages: Any
) -> None:
    book_id = await seed.book(stock=0)
    async with uow_factory() as uow:
        assert await book_handlers.restock_book(RestockBook(book_id, 4), uow) == 4
        await uow.commit()
    async with uow_factory() as uow:
        book = await queries.book_detail(book_id, uow)
    assert (book.stock, book.in_stock) == (4, True)
    assert [m["_type"] for m in await outbox_messages.messages()] == ["folio.catalog.book-created.v1"]


async def test_commands_on_an_unknown_book_are_not_found(uow_factory: Any) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await book_handlers.update_book(UpdateBook(uuid4(), title="X"), uow)
        with pytest.raises(NotFound):
            await book_handlers.restock_book(RestockBook(uuid4(), 1), uow)
