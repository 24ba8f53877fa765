from typing import Any

import pytest

from catalog.application import queries
from catalog.application.errors import DuplicateName
from catalog.application.views import ListParties

pytestmark = pytest.mark.integration


async def test_authors_categories_and_publishers_are_created_and_listed_by_name(
    seed: Any, uow_factory: Any
) -> None:
    await seed.author("Zadie Smith")
    await seed.author("Ann Leckie")
    await seed.author("Ann Leckie")  # two people may share a name
    await seed.category("Poetry")
    await seed.publisher("Gollancz")

    async with uow_factory() as uow:
        authors = await queries.list_authors(ListParties(), uow)
        leckies = await queries.list_authors(ListParties(name="leck"), uow)
        categories = await queries.list_categories(ListParties(), uow)
        publishers = await queries.list_publishers(ListParties(limit=1), uow)
    assert [a.name for a in authors.items] == ["Ann Leckie", "Ann Leckie", "Zadie Smith"]
    assert leckies.total == 2
    assert [c.name for c in categories.items] == ["Poetry"]
    assert (publishers.total, len(publishers.items)) == (1, 1)


async def test_a_category_name_is_unique_whatever_its_case(seed: Any) -> None:
    await seed.category("Science Fiction")
    with pytest.raises(DuplicateName):
        await seed.category("science  fiction")


async def test_a_publisher_name_is_unique(seed: Any) -> None:
    await seed.publisher("Tor")
    with pytest.raises(DuplicateName):
        await seed.publisher("TOR")


async def test_a_name_filter_treats_wildcards_literally(seed: Any, uow_factory: Any) -> None:
    await seed.author("100% Real")
    await seed.author("Plain")
    async with uow_factory() as uow:
        found = await queries.list_authors(ListParties(name="%"), uow)
    assert [a.name for a in found.items] == ["100% Real"]
