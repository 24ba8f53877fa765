"""Prometheus metrics of the outbox relay (exposed by the service's /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PUBLISHED = Counter("folio_outbox_published", "Outbox rows published and confirmed by the broker")
PUBLISH_FAILURES = Counter(
    "folio_outbox_publish_failures", "Outbox publishes that failed (nacked, refused, timed out or lost)"
)
LAG = Histogram(
    "folio_outbox_lag_seconds",
    "From outbox row commit to the broker's publish confirm",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
