import pytest

from catalog.domain.errors import InvalidName
from catalog.domain.parties import Author, Category, Publisher


def test_names_are_trimmed_and_inner_whitespace_collapsed() -> None:
    assert Author.create("  Ursula   K. Le Guin ").name == "Ursula K. Le Guin"


@pytest.mark.parametrize("kind", [Author, Category, Publisher])
def test_a_blank_name_is_refused(kind: type[Author | Category | Publisher]) -> None:
    with pytest.raises(InvalidName) as refused:
        kind.create("   ")
    assert refused.value.field == "name"


def test_a_very_long_name_is_refused() -> None:
    with pytest.raises(InvalidName):
        Publisher.create("x" * 201)


def test_each_new_party_gets_its_own_id() -> None:
    assert Category.create("Poetry").id != Category.create("Poetry").id
