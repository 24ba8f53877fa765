"""Each default that both a setting and the library it configures need, written once.

A service runs with its settings (``chassis.settings``); tests and benchmarks build the library's options
directly. Both read these, so the two can never disagree.
"""

from __future__ import annotations

from datetime import timedelta

# Deliveries a consumer holds unacknowledged at once.
CONSUMER_PREFETCH = 16
# Outbox rows the relay takes (and locks) per transaction; their publishes are all in flight together.
OUTBOX_BATCH_SIZE = 200
# The relay's fallback wake-up when no NOTIFY arrives, in seconds.
OUTBOX_POLL_INTERVAL = 1.0
# Published outbox rows are kept this long (for inspection), then deleted.
OUTBOX_RETENTION = timedelta(hours=72)
