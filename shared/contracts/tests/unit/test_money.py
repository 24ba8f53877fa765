from decimal import Decimal

import pytest
from pydantic import ValidationError

from contracts.money import CurrencyMismatch, Money


def test_amount_serialises_as_a_decimal_string() -> None:
    assert Money.of("12.50", "EUR").model_dump_json() == '{"amount":"12.50","currency":"EUR"}'


def test_amount_keeps_decimal_in_python_mode() -> None:
    assert Money.of("12.50", "EUR").model_dump() == {"amount": Decimal("12.50"), "currency": "EUR"}


@pytest.mark.parametrize("amount", ["0", "12", "12.5", "0.99", Decimal("3.10"), Decimal("1E+2")])
def test_amount_is_accepted_as_string_or_decimal(amount: str | Decimal) -> None:
    assert Money.of(amount, "EUR").amount == Decimal(amount)


def test_decimal_with_exponent_is_written_in_plain_notation() -> None:
    assert Money.of(Decimal("1E+2"), "EUR").model_dump_json() == '{"amount":"100","currency":"EUR"}'


@pytest.mark.parametrize("amount", [12.5, 12, True, None])
def test_amount_is_never_accepted_as_a_number(amount: object) -> None:
    with pytest.raises(ValidationError, match="decimal string or Decimal"):
        Money.model_validate({"amount": amount, "currency": "EUR"})


def test_json_number_amount_is_refused_on_the_wire() -> None:
    with pytest.raises(ValidationError):
        Money.model_validate_json('{"amount": 12.5, "currency": "EUR"}')


@pytest.mark.parametrize("amount", ["-1", "1e3", "01.5", " 1", "1.", ".5", "NaN", "1,5", "١٢"])
def test_amount_string_must_be_plain_non_negative_decimal(amount: str) -> None:
    with pytest.raises(ValidationError):
        Money.of(amount, "EUR")


@pytest.mark.parametrize("amount", [Decimal("NaN"), Decimal("Infinity"), Decimal("-1")])
def test_non_finite_or_negative_decimal_is_refused(amount: Decimal) -> None:
    with pytest.raises(ValidationError):
        Money.of(amount, "EUR")


@pytest.mark.parametrize("currency", ["eur", "EU", "EURO", "€", ""])
def test_currency_is_three_upper_case_letters(currency: str) -> None:
    with pytest.raises(ValidationError):
        Money.of("1", currency)


def test_json_schema_describes_amount_as_a_string_with_a_pattern() -> None:
    amount = Money.model_json_schema()["properties"]["amount"]
    assert amount["type"] == "string"
    assert "pattern" in amount


def test_amounts_of_one_currency_add_up() -> None:
    assert Money.of("1.25", "EUR") + Money.of("2.5", "EUR") == Money.of("3.75", "EUR")


def test_amounts_of_different_currencies_do_not_add_up() -> None:
    with pytest.raises(CurrencyMismatch):
        Money.of("1", "EUR") + Money.of("1", "USD")


def test_amount_multiplies_by_a_quantity_from_either_side() -> None:
    assert Money.of("12.50", "EUR") * 3 == Money.of("37.50", "EUR")
    assert 3 * Money.of("12.50", "EUR") == Money.of("37.50", "EUR")
    assert Money.of("10", "EUR") * Decimal("0.5") == Money.of("5", "EUR")


def test_amount_does_not_multiply_by_a_float() -> None:
    with pytest.raises(TypeError):
        Money.of("1", "EUR") * 1.5  # type: ignore[operator]


def test_total_of_nothing_is_zero_in_the_given_currency() -> None:
    assert Money.total([], "GBP") == Money.zero("GBP")
    assert Money.total([Money.of("1", "GBP"), Money.of("2", "GBP")], "GBP") == Money.of("3", "GBP")


def test_money_is_immutable() -> None:
    money = Money.of("1", "EUR")
    with pytest.raises(ValidationError):
        money.currency = "USD"  # type: ignore[misc]


def test_money_reads_as_amount_and_currency() -> None:
    assert str(Money.of("12.50", "EUR")) == "12.50 EUR"
