"""Each default that both a setting and the library it configures need, written once.

A service runs with its settings (``chassis.settings``); tests and benchmarks build the library's options
directly. Both read these, so the two can never disagree.
"""

from __future__ import annotations

from datetime import timedelta

# Deliveries a consumer holds unacknowledged at once.
CONSUMER_PREFETCH = 16
# Seconds before each redelivery of a failed message; its length is the number of retries. The bootstrap
# sets the retry queues' TTLs from the same delays.
RETRY_DELAYS: tuple[float, ...] = (1.0, 5.0, 30.0)
# Seconds a consumer holds a delivery while its database is unreachable before it pauses the queue.
CONSUMER_HOLD_LIMIT = 600.0
# Outbox rows the relay takes (and locks) per transaction; their publishes are all in flight together.
OUTBOX_BATCH_SIZE = 200
# The relay's fallback wake-up when no NOTIFY arrives, in seconds: while its LISTEN connection is down.
OUTBOX_POLL_INTERVAL = 1.0
# ... and while it listens: a NOTIFY wakes it then, and reconnecting wakes it for any NOTIFY missed meanwhile,
# so the poll only bounds how late a notification lost some other way is caught.
OUTBOX_IDLE_POLL_INTERVAL = 10.0
# Published outbox rows are kept this long (for inspection), then deleted.
OUTBOX_RETENTION = timedelta(hours=72)
# What the bootstrap, `folio-stack` and the benchmarks name databases, roles and users after, and the vhost.
PREFIX = "folio"
VHOST = "folio"
# Requests an API runs at once, how long one more may wait for a slot (s), and the Retry-After (s) of a
# request shed past that wait: about the pool's connections (5 + 5) with as many waiting behind them, so
# that a request past them is refused in a quarter of a second instead of queueing at the pool for 30 s.
# The Retry-After grows while the shedding lasts, up to the max: well inside the half minute a client
# retrying an order commonly allows itself (the load generator's 30 s).
HTTP_MAX_IN_FLIGHT = 20
HTTP_MAX_WAIT_SECONDS = 0.25
HTTP_SHED_RETRY_AFTER_SECONDS = 1
HTTP_SHED_RETRY_AFTER_MAX_SECONDS = 8
# How long an API request waits for a pooled database connection before it is answered 503 (s): past the
# in-flight bound at most about as many requests wait as there are connections, each holding one for some
# milliseconds, so a second's wait means the database is not keeping up. Workers keep the pool's 30 s.
HTTP_POOL_TIMEOUT_SECONDS = 1.0
