"""What one hand-off to the mail server ended with, and the rules for trying again.

The three outcomes are what the exactly-once reasoning rests on: ``Refused`` means the server certainly did
not take the message (it said so, or the message body was never transmitted), so another attempt cannot
double it; ``Unknown`` means the body may have reached the server without its answer reaching us. A refusal
is transient (tried again on a ladder reaching hours) or permanent (failed at once, with the server's reply).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class Accepted:
    """The server answered 250 to the message body: the e-mail is its responsibility now."""

    reply: str = ""


@dataclass(frozen=True, slots=True)
class Refused:
    """The server did not take the message: it refused (4xx/5xx), or the body was never transmitted.

    ``permanent`` (a 5xx reply, an address the server cannot take) fails the notification at once; any other
    refusal (no connection, a timeout, a 4xx reply) is tried again later.
    """

    reason: str
    code: int | None = None
    permanent: bool = False


@dataclass(frozen=True, slots=True)
class Unknown:
    """The body was (perhaps) transmitted but no answer came: the server may or may not have accepted it."""

    reason: str


DeliveryOutcome = Accepted | Refused | Unknown


# Past this many attempts every pause is the same (the exponent is capped), so sums need not go further.
_LADDER_STEPS = 33


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How patiently the sender tries again after a transient refusal, and how long an attempt may last.

    The pause after the n-th refused attempt doubles from ``backoff_base`` up to ``backoff_max`` (30 s, 1 m,
    2 m, ... 4 h by default), spread by up to ``jitter`` either way so that e-mails refused together do
    not all come back together. The sender gives up once the pauses so far add up to more than
    ``give_up_after`` (a day by default): time spent trying, counted from the first attempt, not from when
    the e-mail was asked for. ``sending_lease`` must outlast any real hand-off (the sender bounds each by a
    shorter deadline): a notification still ``sending`` after it can only belong to a worker that stopped.
    """

    backoff_base: timedelta = timedelta(seconds=30)
    backoff_max: timedelta = timedelta(hours=4)
    give_up_after: timedelta = timedelta(days=1)
    jitter: float = 0.2
    sending_lease: timedelta = timedelta(minutes=2)

    def __post_init__(self) -> None:
        if self.backoff_base < timedelta(0) or self.backoff_max < self.backoff_base:
            raise ValueError("backoff must satisfy 0 <= backoff_base <= backoff_max")
        if self.give_up_after < timedelta(0):
            raise ValueError("give_up_after must not be negative")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be at least 0 and below 1")
        if self.sending_lease <= timedelta(0):
            raise ValueError("sending_lease must be positive")

    def backoff(self, attempts: int) -> timedelta:
        """The nominal pause after the ``attempts``-th refusal: base, 2 x base, 4 x base, ... capped."""
        if attempts < 1:
            raise ValueError("attempts counts from 1")
        # Capping the exponent first keeps 2**n small however many attempts were made.
        factor = 2 ** min(attempts - 1, _LADDER_STEPS - 1)
        pause: timedelta = min(self.backoff_base * factor, self.backoff_max)
        return pause

    def pause(self, attempts: int, spread: float | None = None) -> timedelta:
        """:meth:`backoff` with jitter; ``spread`` in [0, 1) picks the point (random when None)."""
        drawn = random.random() if spread is None else spread
        return self.backoff(attempts) * (1 + self.jitter * (2 * drawn - 1))

    def gives_up(self, attempts: int) -> bool:
        """After the ``attempts``-th refusal: would the next attempt start past ``give_up_after``?"""
        steps = min(attempts, _LADDER_STEPS)
        elapsed = sum((self.backoff(n) for n in range(1, steps + 1)), timedelta(0))
        elapsed += (attempts - steps) * self.backoff(_LADDER_STEPS)
        return elapsed > self.give_up_after
