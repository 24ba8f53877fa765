"""Prometheus metrics of the consumers: what became of each delivery, per queue.

FastStream's middleware counts deliveries by exchange and routing key, and every Folio delivery is acked
(a failure is retried or parked by the consumer itself), so only the consumer knows what failed.
"""

from __future__ import annotations

from enum import StrEnum

from prometheus_client import Counter, Gauge


class Outcome(StrEnum):
    HANDLED = "handled"
    # Already in the inbox: acked and skipped.
    DUPLICATE = "duplicate"
    # The handler failed; the message went to its next delay queue.
    RETRIED = "retried"
    # Sent to <queue>.dlq: invalid, unexpected, or out of retries.
    PARKED = "parked"


MESSAGES = Counter(
    "folio_consumer_messages",
    "Deliveries a consumer finished with, by queue and outcome (handled, duplicate, retried, parked)",
    ["queue", "outcome"],
)


def count(queue: str, outcome: Outcome) -> None:
    MESSAGES.labels(queue, outcome.value).inc()


# A held delivery is unacked at the broker and has left no trace in the database yet: without this gauge
# neither the queue's ready count nor the service's tables show that work is still to come.
HELD = Gauge(
    "folio_consumer_deliveries_held",
    "Deliveries a consumer holds, unacked, until the database (or the broker) it needs answers again",
    ["queue"],
)
