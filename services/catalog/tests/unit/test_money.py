from decimal import Decimal

import pytest

from catalog.domain.errors import CurrencyMismatch, InvalidMoney
from catalog.domain.money import Money


def test_money_adds_within_one_currency() -> None:
    assert Money.of("1.25", "EUR") + Money.of("2.50", "EUR") == Money.of("3.75", "EUR")


def test_money_refuses_to_add_another_currency() -> None:
    with pytest.raises(CurrencyMismatch):
        Money.of("1", "EUR") + Money.of("1", "USD")


def test_money_multiplies_by_a_quantity() -> None:
    assert Money.of("12.99", "EUR").times(3) == Money.of("38.97", "EUR")


def test_equal_amounts_with_different_scales_are_equal() -> None:
    assert Money.of("10", "EUR") == Money.of("10.00", "EUR")


def test_zero_is_a_valid_price() -> None:
    assert Money.zero("EUR").amount == Decimal(0)


@pytest.mark.parametrize(
    ("amount", "currency", "field"),
    [
        ("-0.01", "EUR", "amount"),
        ("1.001", "EUR", "amount"),
        ("NaN", "EUR", "amount"),
        ("Infinity", "EUR", "amount"),
        ("ten", "EUR", "amount"),
        ("10000000000", "EUR", "amount"),
        ("1", "eur", "currency"),
        ("1", "EURO", "currency"),
    ],
)
def test_invalid_money_is_refused_naming_the_field(amount: str, currency: str, field: str) -> None:
    with pytest.raises(InvalidMoney) as refused:
        Money.of(amount, currency)
    assert refused.value.field == field


def test_a_float_is_never_money() -> None:
    with pytest.raises(InvalidMoney):
        Money(1.5, "EUR")  # type: ignore[arg-type]
