"""Money inside the catalog: a non-negative amount in cents precision and an ISO 4217 currency."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from catalog.domain.errors import CurrencyMismatch, InvalidMoney

_CURRENCY = re.compile(r"^[A-Z]{3}$")
# Prices are stored with two decimals; a finer amount would be rounded silently, so it is refused instead.
MAX_DECIMALS = 2
# Ten digits before the point is far beyond any book's price and keeps the stored column bounded.
MAX_AMOUNT = Decimal("9999999999.99")


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, Decimal):
            raise InvalidMoney("an amount must be a Decimal", field="amount")
        if not self.amount.is_finite():
            raise InvalidMoney("an amount must be a finite number", field="amount")
        if self.amount < 0:
            raise InvalidMoney("an amount cannot be negative", field="amount")
        if self.amount > MAX_AMOUNT:
            raise InvalidMoney(f"an amount cannot exceed {MAX_AMOUNT}", field="amount")
        exponent = self.amount.normalize().as_tuple().exponent
        if isinstance(exponent, int) and exponent < -MAX_DECIMALS:
            raise InvalidMoney(f"an amount has at most {MAX_DECIMALS} decimals", field="amount")
        if not isinstance(self.currency, str) or not _CURRENCY.fullmatch(self.currency):
            raise InvalidMoney("a currency is three capital letters (ISO 4217)", field="currency")

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> Money:
        try:
            value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
        except InvalidOperation as exc:
            raise InvalidMoney(f"{amount!r} is not a number", field="amount") from exc
        return cls(value, currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def __add__(self, other: Money) -> Money:
        if self.currency != other.currency:
            raise CurrencyMismatch(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def times(self, quantity: int) -> Money:
        return Money(self.amount * quantity, self.currency)

    def __str__(self) -> str:
        return f"{self.amount:f} {self.currency}"
