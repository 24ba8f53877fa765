"""Changes racing each other: one feedback per customer and book, and no verified purchase lost."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest

from contracts.rating import FeedbackSubmitted
from rating.application.commands import RecordOrderCompleted
from rating.application.purchase_handlers import record_order_completed

pytestmark = pytest.mark.integration

T = TypeVar("T")


async def all_at_once(*work: Coroutine[Any, Any, T]) -> list[T]:
    """Run ``work`` concurrently; the first failure cancels the rest, so nothing outlives the test."""
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(each) for each in work]
    return [task.result() for task in tasks]


async def test_concurrent_first_submissions_make_one_feedback_with_distinct_versions(rating) -> None:
    book = uuid4()
    await rating.book_created(book)

    answers = await all_at_once(
        *(
            rating.api.put(
                f"/api/v1/books/{book}/feedback/mine",
                json={"stars": 1 + n % 5, "comment": f"take {n}"},
                headers=rating.auth("alice"),
            )
            for n in range(8)
        )
    )

    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert await rating.feedback_rows() == 1
    versions = [m.version for m in await rating.outbox_messages() if isinstance(m, FeedbackSubmitted)]
    assert sorted(versions) == list(range(1, 9))


async def test_a_submission_racing_the_order_that_verifies_it_ends_up_verified(rating) -> None:
    books = [uuid4() for _ in range(6)]
    for book in books:
        await rating.book_created(book)

    async def complete(book: UUID) -> None:
        async with rating.uows() as uow:
            command = RecordOrderCompleted(uuid4(), "alice", (book,), datetime.now(UTC))
            await record_order_completed(command, uow)
            await uow.commit()

    await all_at_once(
        *(
            work
            for book in books
            for work in (
                rating.api.put(
                    f"/api/v1/books/{book}/feedback/mine", json={"stars": 4}, headers=rating.auth("alice")
                ),
                complete(book),
            )
        )
    )

    for book in books:
        mine = await rating.api.get(f"/api/v1/books/{book}/feedback/mine", headers=rating.auth("alice"))
        assert mine.json()["verified_purchase"] is True
    latest = {}
    for message in await rating.outbox_messages():
        if isinstance(message, FeedbackSubmitted):
            latest[message.book_id] = message
    assert all(message.verified_purchase for message in latest.values())
