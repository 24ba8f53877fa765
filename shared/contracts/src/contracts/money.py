"""Money on the wire: a decimal string and an ISO 4217 currency code, never a float."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, StringConstraints, WithJsonSchema

from contracts.values import Part

# Non-negative, plain positional notation: no sign, exponent, spaces or leading zeros.
AMOUNT_PATTERN = r"^(0|[1-9][0-9]*)(\.[0-9]+)?$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
_AMOUNT_RE = re.compile(AMOUNT_PATTERN)


class CurrencyMismatch(ValueError):
    """Arithmetic between amounts of different currencies."""


def _format_amount(value: Decimal) -> str:
    return format(value, "f")


def _parse_amount(value: Any) -> Decimal:
    # bool is an int, and int/float are refused alike: a JSON number is never money.
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("amount must be a finite decimal")
        text = _format_amount(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f"amount must be a decimal string or Decimal, not {type(value).__name__}")
    if not _AMOUNT_RE.fullmatch(text):
        raise ValueError(f"amount {text!r} is not a non-negative decimal string like '12.50'")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes these
        raise ValueError(f"amount {text!r} is not a decimal") from exc


Amount = Annotated[
    Decimal,
    PlainValidator(_parse_amount),
    PlainSerializer(_format_amount, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN}),
]
Currency = Annotated[str, StringConstraints(pattern=CURRENCY_PATTERN)]


class Money(Part):
    """An amount of one currency. On the wire: ``{"amount": "12.50", "currency": "EUR"}``."""

    amount: Amount
    currency: Currency

    @classmethod
    def of(cls, amount: str | Decimal, currency: str) -> Money:
        return cls(amount=amount, currency=currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(amount=Decimal(0), currency=currency)

    @classmethod
    def total(cls, amounts: Iterable[Money], currency: str) -> Money:
        """The sum of ``amounts``; ``currency`` names the result when there is nothing to add."""
        result = cls.zero(currency)
        for amount in amounts:
            result = result + amount
        return result

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot add {other.currency} to {self.currency}")
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int | Decimal):
            return NotImplemented
        return Money(amount=self.amount * factor, currency=self.currency)

    __rmul__ = __mul__

    def __str__(self) -> str:
        return f"{_format_amount(self.amount)} {self.currency}"
