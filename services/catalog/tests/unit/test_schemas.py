import pytest
from pydantic import ValidationError

from catalog.entrypoints.schemas import BookIn, BookPatch, MoneyIn


def body(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "isbn": "978-0-306-40615-7",
        "title": "T",
        "price": {"amount": "1", "currency": "EUR"},
    }
    data.update(overrides)
    return data


def test_a_book_body_normalises_its_isbn_to_thirteen_digits() -> None:
    assert BookIn.model_validate(body()).isbn == "9780306406157"


@pytest.mark.parametrize("amount", ["-1", "1.234", "01", "1e3", " 1", ""])
def test_an_amount_is_a_plain_non_negative_decimal_string(amount: str) -> None:
    with pytest.raises(ValidationError):
        MoneyIn.model_validate({"amount": amount, "currency": "EUR"})


def test_the_same_author_twice_is_refused() -> None:
    author = "01a20812-e011-77d5-8816-8b67c57a0c8b"
    with pytest.raises(ValidationError):
        BookIn.model_validate(body(author_ids=[author, author]))


def test_a_patch_may_null_the_category_but_not_the_title() -> None:
    assert BookPatch.model_validate({"category_id": None}).model_fields_set == {"category_id"}
    with pytest.raises(ValidationError):
        BookPatch.model_validate({"title": None})
