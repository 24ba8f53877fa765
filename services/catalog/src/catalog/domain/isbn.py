"""The ISBN-13: thirteen digits whose weighted sum (1, 3, 1, 3, ...) is a multiple of ten."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.domain.errors import InvalidIsbn

# People write ISBNs with hyphens or spaces between the groups; the identity is the digits alone.
_SEPARATORS = str.maketrans("", "", "- ")
_DIGITS = frozenset("0123456789")


def check_digit(first_twelve: str) -> int:
    weighted = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(first_twelve))
    return (10 - weighted % 10) % 10


@dataclass(frozen=True, slots=True)
class Isbn:
    value: str

    def __post_init__(self) -> None:
        if len(self.value) != 13 or not set(self.value) <= _DIGITS:
            raise InvalidIsbn(f"an ISBN-13 has 13 digits, not {self.value!r}")
        if not self.value.startswith(("978", "979")):
            raise InvalidIsbn(f"an ISBN-13 starts with 978 or 979, not {self.value[:3]!r}")
        if int(self.value[12]) != check_digit(self.value[:12]):
            raise InvalidIsbn(f"{self.value} has a wrong check digit")

    @classmethod
    def parse(cls, text: str) -> Isbn:
        """Accept the usual written forms (``978-0-306-40615-7``) and keep the digits."""
        return cls(text.strip().translate(_SEPARATORS))

    def __str__(self) -> str:
        return self.value
