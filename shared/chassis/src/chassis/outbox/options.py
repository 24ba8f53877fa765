"""How the relay batches, waits, retries and prunes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class RelayOptions:
    """Intervals are in seconds; retentions are timedeltas because they are counted in days."""

    # Rows taken (and locked) per transaction; their publishes are all in flight together.
    batch_size: int = 500
    # Fallback wake-up when no NOTIFY arrives (a lost listener, or rows whose retry delay just ran out).
    poll_interval: float = 1.0
    # Unconfirmed publishes the relay keeps outstanding at once.
    max_in_flight: int = 500
    # A failed row waits retry_base * 2**(attempts - 1) seconds, at most retry_max, before its next try.
    retry_base: float = 1.0
    retry_max: float = 300.0
    # A publish the broker has not confirmed after this long counts as failed.
    publish_timeout: float = 30.0
    # Published outbox rows are kept this long (for inspection), then deleted.
    retention: timedelta = timedelta(days=7)
    # Inbox rows must outlive any redelivery of their message; None keeps them forever.
    inbox_retention: timedelta | None = timedelta(days=30)
    prune_interval: float = 600.0
    # Rows deleted per statement while pruning, so a long backlog never holds a huge transaction.
    prune_chunk: int = 5000

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_in_flight < 1:
            raise ValueError("batch_size and max_in_flight must be positive")
        if self.retry_base <= 0 or self.retry_max < self.retry_base:
            raise ValueError("need 0 < retry_base <= retry_max")


def retry_delay(attempts: int, *, base: float, maximum: float) -> float:
    """Seconds to wait before the next try after ``attempts`` failed ones (exponential, capped)."""
    if attempts < 1:
        return 0.0
    # Past 2**64 the cap has long been reached; bounding the exponent avoids float overflow.
    return min(maximum, base * 2.0 ** min(attempts - 1, 64))
