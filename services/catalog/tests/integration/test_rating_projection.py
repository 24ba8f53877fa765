import asyncio
import random
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from catalog.application import queries, rating_handlers
from catalog.application.commands import RecordFeedbackDeleted, RecordFeedbackSubmitted

pytestmark = pytest.mark.integration

Event = RecordFeedbackSubmitted | RecordFeedbackDeleted


async def apply(uow_factory: Any, event: Event) -> bool:
    async with uow_factory() as uow:
        if isinstance(event, RecordFeedbackSubmitted):
            changed = await rating_handlers.record_feedback_submitted(event, uow)
        else:
            changed = await rating_handlers.record_feedback_deleted(event, uow)
        await uow.commit()
        return changed


async def rating_of(uow_factory: Any, book_id: UUID) -> tuple[Decimal | None, int]:
    async with uow_factory() as uow:
        book = await queries.book_detail(book_id, uow)
    return book.average_rating, book.rating_count


def submitted(book: UUID, customer: str, stars: int, version: int) -> RecordFeedbackSubmitted:
    return RecordFeedbackSubmitted(uuid4(), book, customer, stars, version)


async def test_a_new_book_has_no_rating(seed: Any, uow_factory: Any) -> None:
    assert await rating_of(uow_factory, await seed.book()) == (None, 0)


async def test_feedback_feeds_the_average_and_count(seed: Any, uow_factory: Any) -> None:
    book = await seed.book()
    for customer, stars in (("ann", 5), ("bob", 4), ("cy", 4)):
        await apply(uow_factory, submitted(book, customer, stars, 1))
    assert await rating_of(uow_factory, book) == (Decimal("4.33"), 3)


async def test_a_changed_rating_replaces_the_customers_earlier_one(seed: Any, uow_factory: Any) -> None:
    book = await seed.book()
    await apply(uow_factory, submitted(book, "ann", 1, 1))
    await apply(uow_factory, submitted(book, "ann", 5, 2))
    assert await rating_of(uow_factory, book) == (Decimal("5.00"), 1)


async def test_an_older_version_arriving_late_is_ignored(seed: Any, uow_factory: Any) -> None:
    book = await seed.book()
    assert await apply(uow_factory, submitted(book, "ann", 5, 2))
    assert not await apply(uow_factory, submitted(book, "ann", 1, 1))
    assert await rating_of(uow_factory, book) == (Decimal("5.00"), 1)


async def test_a_deletion_withdraws_the_rating_and_outranks_older_submissions(
    seed: Any, uow_factory: Any
) -> None:
    book = await seed.book()
    await apply(uow_factory, submitted(book, "ann", 2, 1))
    await apply(uow_factory, submitted(book, "bob", 4, 1))
    await apply(uow_factory, RecordFeedbackDeleted(uuid4(), book, "ann", 2))
    assert not await apply(uow_factory, submitted(book, "ann", 2, 1))
    assert await rating_of(uow_factory, book) == (Decimal("4.00"), 1)


async def test_a_deletion_arriving_before_its_submission_still_wins(seed: Any, uow_factory: Any) -> None:
    book = await seed.book()
    await apply(uow_factory, RecordFeedbackDeleted(uuid4(), book, "ann", 2))
    await apply(uow_factory, submitted(book, "ann", 3, 1))
    assert await rating_of(uow_factory, book) == (None, 0)


async def test_a_burst_delivered_out_of_order_and_twice_converges_on_the_latest_versions(
    seed: Any, uow_factory: Any
) -> None:
    book = await seed.book()
    rng = random.Random(7)
    history: list[Event] = []
    latest: dict[str, int | None] = {}
    for customer in (f"customer-{n}" for n in range(12)):
        for version in range(1, rng.randint(2, 6)):
            if version > 1 and rng.random() < 0.25:
                history.append(RecordFeedbackDeleted(uuid4(), book, customer, version))
                latest[customer] = None
            else:
                stars = rng.randint(1, 5)
                history.append(submitted(book, customer, stars, version))
                latest[customer] = stars
    deliveries = history + rng.sample(history, k=len(history) // 2)
    rng.shuffle(deliveries)

    for event in deliveries:
        await apply(uow_factory, event)

    counted = [stars for stars in latest.values() if stars is not None]
    expected = round(Decimal(sum(counted)) / len(counted), 2)
    assert await rating_of(uow_factory, book) == (expected, len(counted))


async def test_feedback_handled_concurrently_for_one_book_still_adds_up(seed: Any, uow_factory: Any) -> None:
    book = await seed.book()
    events = [submitted(book, f"customer-{n}", n % 5 + 1, 1) for n in range(30)]
    # A task group: the first failure cancels the rest, so nothing outlives the test.
    async with asyncio.TaskGroup() as group:
        for event in events:
            group.create_task(apply(uow_factory, event))
    expected = round(Decimal(sum(n % 5 + 1 for n in range(30))) / 30, 2)
    assert await rating_of(uow_factory, book) == (expected, 30)
