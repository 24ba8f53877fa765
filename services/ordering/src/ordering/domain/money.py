"""Money inside ordering: a decimal amount of one currency (the wire model lives in contracts)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

_CURRENCY = re.compile(r"^[A-Z]{3}$")


class CurrencyMismatch(ValueError):
    """Arithmetic between amounts of different currencies."""


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not self.amount.is_finite() or self.amount < 0:
            raise ValueError(f"amount must be a finite, non-negative decimal, not {self.amount}")
        if not _CURRENCY.fullmatch(self.currency):
            raise ValueError(f"currency must be a three-letter ISO 4217 code, not {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def times(self, factor: int) -> Money:
        return Money(self.amount * factor, self.currency)

    def __str__(self) -> str:
        return f"{format(self.amount, 'f')} {self.currency}"
