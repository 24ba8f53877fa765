import pytest

from catalog.domain.errors import InvalidIsbn
from catalog.domain.isbn import Isbn, check_digit


def test_a_valid_isbn_13_is_accepted() -> None:
    assert Isbn("9780306406157").value == "9780306406157"


def test_hyphens_and_spaces_are_dropped_when_parsing() -> None:
    assert Isbn.parse(" 978-0-306 40615-7 ").value == "9780306406157"


def test_the_check_digit_is_the_weighted_sum_complement() -> None:
    assert check_digit("978030640615") == 7
    assert check_digit("979100000000") == 8


@pytest.mark.parametrize(
    "text",
    [
        "9780306406158",  # wrong check digit
        "978030640615",  # twelve digits
        "97803064061577",  # fourteen digits
        "978030640615X",  # ISBN-10 style check character
        "0306406152",  # an ISBN-10
        "9770306406159",  # neither 978 nor 979
        "٩٧٨٠٣٠٦٤٠٦١٥٧",  # digits of another script
        "",
    ],
)
def test_an_invalid_isbn_is_refused_with_the_isbn_field(text: str) -> None:
    with pytest.raises(InvalidIsbn) as refused:
        Isbn.parse(text)
    assert refused.value.field == "isbn"
