"""The replica of the catalog's books, fed through the real broker by BookCreated and BookDeleted."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select

from chassis.tables import inbox
from contracts.catalog import BookCreated, BookDeleted
from contracts.envelope import Envelope
from contracts.money import Money
from rating.adapters.tables import known_books

pytestmark = pytest.mark.integration

QUEUE = "rating.book_replica"
AT = datetime(2026, 11, 1, tzinfo=UTC)


def created(book_id: UUID) -> BookCreated:
    return BookCreated(
        book_id=book_id,
        isbn="9780306406157",
        title="A Wizard of Earthsea",
        author_names=["Ursula K. Le Guin"],
        category="Fantasy",
        price=Money.of("9.99", "EUR"),
        occurred_at=AT,
    )


def deleted(book_id: UUID) -> BookDeleted:
    return BookDeleted(book_id=book_id, occurred_at=AT)


async def replica(rating) -> dict[UUID, bool]:
    """Each book rating knows of, and whether it is deleted."""
    async with rating.engine.connect() as connection:
        rows = await connection.execute(select(known_books.c.book_id, known_books.c.deleted_at))
        return {row.book_id: row.deleted_at is not None for row in rows}


async def handled(rating) -> set[UUID]:
    async with rating.engine.connect() as connection:
        rows = await connection.execute(select(inbox.c.message_id).where(inbox.c.consumer == QUEUE))
        return {row.message_id for row in rows}


async def test_a_created_book_becomes_known_and_takes_feedback(rating, bus) -> None:
    book = uuid4()

    await bus.publish(created(book))
    await rating.eventually(lambda: _knows(rating, book))

    response = await rating.api.put(
        f"/api/v1/books/{book}/feedback/mine", json={"stars": 5}, headers=rating.auth("alice")
    )
    assert response.status_code == 201


async def test_a_deleted_book_stops_taking_feedback(rating, bus) -> None:
    book = uuid4()

    await bus.publish(created(book))
    await bus.publish(deleted(book))
    await rating.eventually(lambda: _is_deleted(rating, book))

    response = await rating.api.put(
        f"/api/v1/books/{book}/feedback/mine", json={"stars": 5}, headers=rating.auth("alice")
    )
    assert response.json()["type"].endswith("/book-deleted")


async def test_a_deletion_arriving_before_the_creation_leaves_the_book_deleted(rating, bus) -> None:
    book, sentinel = uuid4(), uuid4()

    await bus.publish(deleted(book))
    await bus.publish(created(book))
    await bus.publish(created(sentinel))
    await rating.eventually(lambda: _knows(rating, sentinel))

    assert (await replica(rating))[book] is True


async def test_the_same_message_delivered_twice_is_handled_once(rating, bus) -> None:
    book, sentinel = uuid4(), uuid4()
    message = created(book)
    envelope = Envelope(type=message.TYPE, source="/folio/catalog", subject=str(book))

    await bus.publish(message, envelope=envelope)
    await bus.publish(message, envelope=envelope)
    await bus.publish(created(sentinel))
    await rating.eventually(lambda: _knows(rating, sentinel))

    assert len(await handled(rating)) == 2
    assert envelope.id in await handled(rating)
    assert await replica(rating) == {book: False, sentinel: False}


async def test_the_replica_converges_after_a_burst_of_duplicated_events_in_any_order(
    rating, busy_bus
) -> None:
    books = [uuid4() for _ in range(30)]
    doomed = set(books[::2])
    messages = [created(book) for book in books] + [deleted(book) for book in doomed]
    deliveries: list[tuple[object, Envelope]] = []
    for message in messages:
        envelope = Envelope(type=message.TYPE, source="/folio/catalog", subject=message.subject_value())
        deliveries.append((message, envelope))
        # A redelivery (same id) and a producer's second send (a new id) of the same fact.
        deliveries.append((message, envelope))
        deliveries.append((message, Envelope(type=message.TYPE, source="/folio/catalog")))
    random.Random(7).shuffle(deliveries)

    for message, envelope in deliveries:
        await busy_bus.publish(message, envelope=envelope)
    expected = {book: book in doomed for book in books}

    async def converged() -> bool:
        return await replica(rating) == expected and len(await handled(rating)) == 2 * len(messages)

    await rating.eventually(converged, within=20)
    assert await busy_bus.parked("book_replica") == []


async def test_a_malformed_message_is_parked_with_its_reason_and_the_consumer_goes_on(rating, bus) -> None:
    book = uuid4()
    bad_body = created(uuid4()).to_data() | {"book_id": "not-a-uuid"}

    await bus.publish(created(book), body=json.dumps(bad_body).encode())
    await bus.publish(created(book), body=b"{not json")
    await bus.publish_raw("catalog.events", BookCreated.TYPE, created(book).to_json(), headers={})
    await bus.publish(created(book))
    await rating.eventually(lambda: _knows(rating, book))

    async def three_parked() -> bool:
        return len(await bus.parked("book_replica")) == 3

    await rating.eventually(three_parked)
    parked = await bus.parked("book_replica")
    assert {p.error_type for p in parked} == {"ValidationError", "InvalidMessage", "InvalidEnvelope"}
    assert any("book_id" in (p.error or "") for p in parked)
    assert await replica(rating) == {book: False}


async def _knows(rating, book: UUID) -> bool:
    return book in await replica(rating)


async def _is_deleted(rating, book: UUID) -> bool:
    return (await replica(rating)).get(book) is True
