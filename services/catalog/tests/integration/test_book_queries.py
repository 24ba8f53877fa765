from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from catalog.application import queries, rating_handlers
from catalog.application.commands import RecordFeedbackSubmitted
from catalog.application.views import BookSort, BrowseBooks
from catalog.domain.identity import new_id

pytestmark = pytest.mark.integration


@pytest.fixture
async def shelf(seed: Any, uow_factory: Any) -> dict[str, UUID]:
    le_guin = await seed.author("Ursula K. Le Guin")
    tolkien = await seed.author("J. R. R. Tolkien")
    fantasy = await seed.category("Fantasy")
    essays = await seed.category("Essays")
    ids = {
        "earthsea": await seed.book(
            "A Wizard of Earthsea",
            description="A young wizard learns the true names of things and faces his shadow.",
            price="8.50",
            stock=3,
            authors=[le_guin],
            category=fantasy,
        ),
        "dispossessed": await seed.book(
            "The Dispossessed",
            description="An anarchist physicist travels between twin worlds.",
            price="12.00",
            stock=0,
            authors=[le_guin],
        ),
        "hobbit": await seed.book(
            "The Hobbit",
            description="A hobbit is swept into a quest with dwarves and a wizard.",
            price="10.00",
            stock=7,
            authors=[tolkien],
            category=fantasy,
        ),
        "essays": await seed.book(
            "The Language of the Night",
            description="Essays on fantasy and science fiction.",
            price="15.00",
            stock=1,
            authors=[le_guin],
            category=essays,
        ),
    }
    for customer, (book, stars) in enumerate([("hobbit", 5), ("hobbit", 4), ("earthsea", 3)]):
        async with uow_factory() as uow:
            await rating_handlers.record_feedback_submitted(
                RecordFeedbackSubmitted(new_id(), ids[book], f"c{customer}", stars, 1), uow
            )
            await uow.commit()
    return {**ids, "le_guin": le_guin, "tolkien": tolkien, "fantasy": fantasy}


async def browse(uow_factory: Any, **criteria: Any) -> tuple[list[str], int]:
    async with uow_factory() as uow:
        found = await queries.browse_books(BrowseBooks(**criteria), uow)
    return [book.title for book in found.items], found.total


async def test_books_list_by_title_by_default_with_their_total(shelf: Any, uow_factory: Any) -> None:
    titles, total = await browse(uow_factory)
    assert titles == ["A Wizard of Earthsea", "The Dispossessed", "The Hobbit", "The Language of the Night"]
    assert total == 4


async def test_pages_slice_the_list_and_keep_the_total(shelf: Any, uow_factory: Any) -> None:
    assert await browse(uow_factory, offset=2, limit=2) == (["The Hobbit", "The Language of the Night"], 4)
    assert await browse(uow_factory, offset=8, limit=2) == ([], 4)


async def test_filters_by_category_author_price_and_stock_combine(shelf: Any, uow_factory: Any) -> None:
    assert (await browse(uow_factory, category_id=shelf["fantasy"]))[0] == [
        "A Wizard of Earthsea",
        "The Hobbit",
    ]
    assert (await browse(uow_factory, author_id=shelf["tolkien"]))[0] == ["The Hobbit"]
    assert (await browse(uow_factory, min_price=Decimal("10"), max_price=Decimal("12")))[0] == [
        "The Dispossessed",
        "The Hobbit",
    ]
    assert (await browse(uow_factory, in_stock=False))[0] == ["The Dispossessed"]
    assert await browse(
        uow_factory, author_id=shelf["le_guin"], in_stock=True, category_id=shelf["fantasy"]
    ) == (
        ["A Wizard of Earthsea"],
        1,
    )


async def test_full_text_search_matches_stemmed_words_in_titles_and_descriptions(
    shelf: Any, uow_factory: Any
) -> None:
    titles, total = await browse(uow_factory, text="wizards")
    # Earthsea has "wizard" in its title as well as its description, so it ranks first.
    assert titles == ["A Wizard of Earthsea", "The Hobbit"]
    assert total == 2
    assert (await browse(uow_factory, text='"science fiction" -physicist'))[0] == [
        "The Language of the Night"
    ]
    assert await browse(uow_factory, text="zeppelin") == ([], 0)


async def test_search_text_that_is_not_a_valid_query_still_answers(shelf: Any, uow_factory: Any) -> None:
    assert (await browse(uow_factory, text='") & | !('))[1] >= 0


async def test_sorting_by_price_rating_and_newest(shelf: Any, uow_factory: Any) -> None:
    assert (await browse(uow_factory, sort=BookSort.PRICE))[0][0] == "A Wizard of Earthsea"
    assert (await browse(uow_factory, sort=BookSort.PRICE_DESC))[0][0] == "The Language of the Night"
    assert (await browse(uow_factory, sort=BookSort.RATING))[0][:2] == ["The Hobbit", "A Wizard of Earthsea"]
    assert (await browse(uow_factory, sort=BookSort.NEWEST))[0][0] == "The Language of the Night"


async def test_the_book_view_shows_authors_category_stock_and_rating(shelf: Any, uow_factory: Any) -> None:
    async with uow_factory() as uow:
        hobbit = await queries.book_detail(shelf["hobbit"], uow)
    assert hobbit.author_names == ("J. R. R. Tolkien",)
    assert hobbit.category == "Fantasy"
    assert (hobbit.in_stock, hobbit.stock) == (True, 7)
    assert (hobbit.average_rating, hobbit.rating_count) == (Decimal("4.50"), 2)
