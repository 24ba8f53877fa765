"""What one hand-off to the mail server ended with, and the rules for trying again.

The three outcomes are what the exactly-once reasoning rests on: ``Refused`` means the server certainly did
not take the message (it said so, or the message body was never transmitted), so another attempt cannot
double it; ``Unknown`` means the body may have reached the server without its answer reaching us.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class Accepted:
    """The server answered 250 to the message body: the e-mail is its responsibility now."""

    reply: str = ""


@dataclass(frozen=True, slots=True)
class Refused:
    """The server did not take the message: it refused (4xx/5xx), or the body was never transmitted."""

    reason: str
    code: int | None = None


@dataclass(frozen=True, slots=True)
class Unknown:
    """The body was (perhaps) transmitted but no answer came: the server may or may not have accepted it."""

    reason: str


DeliveryOutcome = Accepted | Refused | Unknown


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How often and how patiently the sender tries, and how long an attempt may stay in flight.

    ``sending_lease`` must outlast any real hand-off (the sender bounds each by a shorter deadline):
    a notification still ``sending`` after it can only belong to a worker that stopped mid-attempt.
    """

    max_attempts: int = 5
    backoff_base: timedelta = timedelta(seconds=2)
    backoff_max: timedelta = timedelta(minutes=5)
    sending_lease: timedelta = timedelta(minutes=2)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.backoff_base < timedelta(0) or self.backoff_max < self.backoff_base:
            raise ValueError("backoff must satisfy 0 <= backoff_base <= backoff_max")
        if self.sending_lease <= timedelta(0):
            raise ValueError("sending_lease must be positive")

    def backoff(self, attempts: int) -> timedelta:
        """The pause after the ``attempts``-th failed attempt: base, 2 x base, 4 x base, ... capped."""
        if attempts < 1:
            raise ValueError("attempts counts from 1")
        # Capping the exponent first keeps 2**n small however many attempts were made.
        factor = 2 ** min(attempts - 1, 32)
        pause: timedelta = min(self.backoff_base * factor, self.backoff_max)
        return pause
