"""How the relay batches, waits, retries and prunes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from chassis import defaults


@dataclass(frozen=True, slots=True)
class RelayOptions:
    """Intervals are in seconds; retentions are timedeltas because they are counted in days."""

    # Rows taken (and locked) per transaction; their publishes are all in flight together.
    batch_size: int = defaults.OUTBOX_BATCH_SIZE
    # Fallback wake-up when no NOTIFY arrives (a lost listener, or rows whose retry delay just ran out).
    poll_interval: float = defaults.OUTBOX_POLL_INTERVAL
    # The fallback wake-up while the LISTEN connection is up (never shorter than poll_interval). A row this
    # relay failed is still tried again when its retry comes due.
    idle_poll_interval: float = defaults.OUTBOX_IDLE_POLL_INTERVAL
    # Unconfirmed publishes the relay keeps outstanding at once.
    max_in_flight: int = 500
    # A failed row waits retry_base * 2**(attempts - 1) seconds, at most retry_max, before its next try.
    retry_base: float = 1.0
    retry_max: float = 600.0
    # After this many failed attempts (about two hours on the default ladder) a row is failed for good
    # (failed_at, logged at ERROR, counted by folio_outbox_failed) until an operator retries it. None: never.
    # Only the row's own failures count: an unreachable broker spends no attempts.
    max_attempts: int | None = 20
    # An exchange a passive declare found, and a target the broker refused, are believed this long.
    recheck_interval: float = 10.0
    # A body larger than this is refused without a try (RabbitMQ's default max_message_size is 16 MiB
    # from 4.0 on, 128 MiB before); a broker configured lower refuses it itself, and only that row fails.
    max_body_bytes: int = 16 * 1024 * 1024
    # A publish the broker has not confirmed after this long counts as failed.
    publish_timeout: float = 30.0
    # Published outbox rows are kept this long (for inspection), then deleted.
    retention: timedelta = defaults.OUTBOX_RETENTION
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
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be positive (or None for no limit)")
        if self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")


def retry_delay(attempts: int, *, base: float, maximum: float) -> float:
    """Seconds to wait before the next try after ``attempts`` failed ones (exponential, capped)."""
    if attempts < 1:
        return 0.0
    # Past 2**64 the cap has long been reached; bounding the exponent avoids float overflow.
    return min(maximum, base * 2.0 ** min(attempts - 1, 64))
