"""Completed orders, through the real broker, vouch for their customer's feedback: past and future."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select

from contracts.envelope import Envelope
from contracts.money import Money
from contracts.ordering import OrderCompleted
from contracts.rating import FeedbackSubmitted
from rating.adapters.tables import verified_purchases

pytestmark = pytest.mark.integration


def completed(customer: str, *books: UUID) -> OrderCompleted:
    return OrderCompleted(
        order_id=uuid4(),
        customer_id=customer,
        customer_email=f"{customer}@example.com",
        book_ids=list(books),
        total=Money.of("19.98", "EUR"),
        completed_at=datetime.now(UTC),
    )


async def purchases(rating) -> set[tuple[str, UUID]]:
    async with rating.engine.connect() as connection:
        rows = await connection.execute(
            select(verified_purchases.c.customer_id, verified_purchases.c.book_id)
        )
        return {(row.customer_id, row.book_id) for row in rows}


async def submitted(rating) -> list[FeedbackSubmitted]:
    return [m for m in await rating.outbox_messages() if isinstance(m, FeedbackSubmitted)]


async def give(rating, book: UUID, customer: str, stars: int = 4) -> dict[str, object]:
    response = await rating.api.put(
        f"/api/v1/books/{book}/feedback/mine", json={"stars": stars}, headers=rating.auth(customer)
    )
    assert response.status_code in (200, 201), response.text
    body: dict[str, object] = response.json()
    return body


async def wait_for_purchase(rating, customer: str, book: UUID) -> None:
    async def recorded() -> bool:
        return (customer, book) in await purchases(rating)

    await rating.eventually(recorded)


async def test_feedback_given_before_the_order_becomes_verified_and_is_announced_again(rating, bus) -> None:
    book, other = uuid4(), uuid4()
    await rating.book_created(book)
    given = await give(rating, book, "alice")

    await bus.publish(completed("alice", book, other))
    await wait_for_purchase(rating, "alice", book)

    mine = await rating.api.get(f"/api/v1/books/{book}/feedback/mine", headers=rating.auth("alice"))
    assert (mine.json()["verified_purchase"], mine.json()["version"]) == (True, 2)
    first, again = await submitted(rating)
    assert (first.version, first.verified_purchase) == (1, False)
    assert (again.version, again.verified_purchase, again.stars) == (2, True, 4)
    assert str(again.feedback_id) == given["id"]


async def test_feedback_given_after_the_order_is_verified_from_the_start(rating, bus) -> None:
    book = uuid4()
    await rating.book_created(book)

    await bus.publish(completed("alice", book))
    await wait_for_purchase(rating, "alice", book)
    given = await give(rating, book, "alice")

    assert (given["verified_purchase"], given["version"]) == (True, 1)
    (message,) = await submitted(rating)
    assert (message.verified_purchase, message.version) == (True, 1)


async def test_an_order_vouches_only_for_its_own_customer(rating, bus) -> None:
    book = uuid4()
    await rating.book_created(book)
    await give(rating, book, "bob")

    await bus.publish(completed("alice", book))
    await wait_for_purchase(rating, "alice", book)

    bobs = await rating.api.get(f"/api/v1/books/{book}/feedback/mine", headers=rating.auth("bob"))
    assert bobs.json()["verified_purchase"] is False
    assert len(await submitted(rating)) == 1


async def test_deleted_feedback_given_again_after_the_order_is_verified(rating, bus) -> None:
    book = uuid4()
    await rating.book_created(book)
    await give(rating, book, "alice")
    await rating.api.delete(f"/api/v1/books/{book}/feedback/mine", headers=rating.auth("alice"))

    await bus.publish(completed("alice", book))
    await wait_for_purchase(rating, "alice", book)
    again = await give(rating, book, "alice", stars=5)

    assert (again["verified_purchase"], again["version"]) == (True, 3)


async def test_the_same_order_delivered_twice_verifies_once(rating, bus) -> None:
    book, sentinel_book = uuid4(), uuid4()
    await rating.book_created(book)
    await give(rating, book, "alice")
    order = completed("alice", book)
    envelope = Envelope(type=order.TYPE, source="/folio/ordering", subject=str(order.order_id))

    await bus.publish(order, envelope=envelope)
    await bus.publish(order, envelope=envelope)
    await bus.publish(completed("carol", sentinel_book))
    await wait_for_purchase(rating, "carol", sentinel_book)

    assert [(m.version, m.verified_purchase) for m in await submitted(rating)] == [(1, False), (2, True)]
    assert await purchases(rating) == {("alice", book), ("carol", sentinel_book)}


async def test_a_second_order_of_a_book_already_bought_changes_nothing(rating, bus) -> None:
    book = uuid4()
    await rating.book_created(book)
    await give(rating, book, "alice")

    await bus.publish(completed("alice", book))
    await bus.publish(completed("alice", book))
    await bus.publish(completed("carol", book))
    await wait_for_purchase(rating, "carol", book)

    assert [m.version for m in await submitted(rating)] == [1, 2]


async def test_a_malformed_order_is_parked_with_its_reason_and_the_consumer_goes_on(rating, bus) -> None:
    book = uuid4()
    broken = completed("alice", book).to_data() | {"customer_id": ""}

    await bus.publish(completed("alice", book), body=json.dumps(broken).encode())
    await bus.publish(completed("alice", book))
    await wait_for_purchase(rating, "alice", book)

    async def parked_one() -> bool:
        return len(await bus.parked("verified_purchases")) == 1

    await rating.eventually(parked_one)
    (parked,) = await bus.parked("verified_purchases")
    assert parked.type == OrderCompleted.TYPE
    assert parked.error_type == "ValidationError"
    assert "customer_id" in (parked.error or "")
