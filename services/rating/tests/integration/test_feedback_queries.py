"""Reading a book's feedback and summary through the API."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from rating.application.commands import RecordOrderCompleted
from rating.application.purchase_handlers import record_order_completed

pytestmark = pytest.mark.integration


async def give(rating, book, customer: str, stars: int, comment: str | None = None) -> None:
    response = await rating.api.put(
        f"/api/v1/books/{book}/feedback/mine",
        json={"stars": stars, "comment": comment},
        headers=rating.auth(customer),
    )
    assert response.status_code in (200, 201), response.text


async def bought(rating, customer: str, *books) -> None:
    async with rating.uows() as uow:
        await record_order_completed(
            RecordOrderCompleted(uuid4(), customer, tuple(books), datetime.now(UTC)), uow
        )
        await uow.commit()


async def test_a_books_feedback_is_listed_newest_first_in_pages_with_a_total(rating) -> None:
    book = uuid4()
    await rating.book_created(book)
    for n, customer in enumerate(["ann", "ben", "cat", "dan", "eve"], start=1):
        await give(rating, book, customer, stars=n, comment=f"by {customer}")

    first = await rating.api.get(f"/api/v1/books/{book}/feedback", params={"page": 1, "size": 2})
    last = await rating.api.get(f"/api/v1/books/{book}/feedback", params={"page": 3, "size": 2})

    assert first.status_code == 200
    page = first.json()
    assert (page["total"], page["page"], page["size"], page["pages"]) == (5, 1, 2, 3)
    assert [item["comment"] for item in page["items"]] == ["by eve", "by dan"]
    assert [item["comment"] for item in last.json()["items"]] == ["by ann"]
    assert "customer_id" not in page["items"][0]


async def test_a_replaced_feedback_moves_to_the_top_of_the_list(rating) -> None:
    book = uuid4()
    await rating.book_created(book)
    await give(rating, book, "ann", 3)
    await give(rating, book, "ben", 4)
    await give(rating, book, "ann", 5)

    listed = await rating.api.get(f"/api/v1/books/{book}/feedback")

    assert [item["stars"] for item in listed.json()["items"]] == [5, 4]


async def test_verified_purchases_come_first_on_request_each_group_newest_first(rating) -> None:
    book = uuid4()
    await rating.book_created(book)
    await bought(rating, "ann", book)
    await bought(rating, "cat", book)
    for customer in ["ann", "ben", "cat", "dan"]:
        await give(rating, book, customer, 4, comment=customer)

    plain = await rating.api.get(f"/api/v1/books/{book}/feedback")
    verified_first = await rating.api.get(f"/api/v1/books/{book}/feedback", params={"verified_first": "true"})

    assert [item["comment"] for item in plain.json()["items"]] == ["dan", "cat", "ben", "ann"]
    items = verified_first.json()["items"]
    assert [(item["comment"], item["verified_purchase"]) for item in items] == [
        ("cat", True),
        ("ann", True),
        ("dan", False),
        ("ben", False),
    ]


async def test_a_books_summary_gives_the_average_count_and_distribution_of_live_feedback(rating) -> None:
    book = uuid4()
    await rating.book_created(book)
    for customer, stars in [("ann", 5), ("ben", 4), ("cat", 4), ("dan", 1), ("eve", 2)]:
        await give(rating, book, customer, stars)
    await rating.api.delete(f"/api/v1/books/{book}/feedback/mine", headers=rating.auth("eve"))

    summary = await rating.api.get(f"/api/v1/books/{book}/summary")

    assert summary.status_code == 200
    assert summary.json() == {
        "book_id": str(book),
        "count": 4,
        "average": 3.5,
        "distribution": {"1": 1, "2": 0, "3": 0, "4": 2, "5": 1},
    }


async def test_a_book_without_feedback_has_an_empty_summary_and_list(rating) -> None:
    book = uuid4()
    await rating.book_created(book)

    summary = await rating.api.get(f"/api/v1/books/{book}/summary")
    listed = await rating.api.get(f"/api/v1/books/{book}/feedback")

    assert summary.json() == {
        "book_id": str(book),
        "count": 0,
        "average": None,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
    }
    assert listed.json() == {"items": [], "total": 0, "page": 1, "size": 20, "pages": 0}


async def test_an_average_is_rounded_to_two_decimals(rating) -> None:
    book = uuid4()
    await rating.book_created(book)
    for customer, stars in [("ann", 5), ("ben", 4), ("cat", 4)]:
        await give(rating, book, customer, stars)

    summary = await rating.api.get(f"/api/v1/books/{book}/summary")

    assert summary.json()["average"] == 4.33


async def test_reading_an_unknown_or_deleted_books_feedback_is_a_404_problem(rating) -> None:
    unknown, deleted = uuid4(), uuid4()
    await rating.book_created(deleted)
    await rating.book_deleted(deleted)

    answers = [
        await rating.api.get(f"/api/v1/books/{unknown}/summary"),
        await rating.api.get(f"/api/v1/books/{unknown}/feedback"),
        await rating.api.get(f"/api/v1/books/{deleted}/summary"),
        await rating.api.get(f"/api/v1/books/{deleted}/feedback"),
    ]

    assert [a.status_code for a in answers] == [404] * 4
    assert [a.json()["type"].rsplit("/", 1)[1] for a in answers] == [
        "unknown-book",
        "unknown-book",
        "book-deleted",
        "book-deleted",
    ]


@pytest.mark.parametrize("params", [{"page": 0}, {"size": 0}, {"size": 101}, {"verified_first": "maybe"}])
async def test_bad_paging_is_a_422_problem(rating, params: dict[str, object]) -> None:
    book = uuid4()
    await rating.book_created(book)

    response = await rating.api.get(f"/api/v1/books/{book}/feedback", params=params)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
