"""The offered load: steps of a constant order rate, each held for a fixed time.

Open loop: orders leave at their scheduled instants whether or not earlier ones were answered, so a slow
system shows up as latency and backlog instead of silently lowering the rate (coordinated omission).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateStep:
    rate: float  # orders per second
    seconds: float

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.seconds <= 0:
            raise ValueError("a step needs a positive rate and duration")

    @property
    def count(self) -> int:
        return max(1, round(self.rate * self.seconds))

    def offsets(self) -> list[float]:
        """Seconds from the step's start at which each order leaves, evenly spaced."""
        return [i / self.rate for i in range(self.count)]


def parse_rates(text: str) -> list[float]:
    """``"5,10,20,40"`` → ``[5.0, 10.0, 20.0, 40.0]``; rates must be positive."""
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise ValueError(f"rates must be numbers separated by commas: {text!r}") from error
    if not rates or any(rate <= 0 for rate in rates):
        raise ValueError(f"rates must be positive numbers separated by commas: {text!r}")
    return rates


def rising_steps(rates: list[float], seconds: float) -> list[RateStep]:
    return [RateStep(rate, seconds) for rate in rates]
