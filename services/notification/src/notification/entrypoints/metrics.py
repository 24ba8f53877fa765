"""The sender's Prometheus metrics, served on the chassis' ``/metrics`` with everything else."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from chassis import Resources
from notification.adapters.repositories import pending_count_query
from notification.application.sending_handlers import PassResult

HAND_OFFS = Counter(
    "folio_notification_hand_offs",
    "E-mails handed to the SMTP server, by the status they left the notification in (sent; pending: "
    "refused, to be retried; failed: refused on the last attempt; uncertain: outcome unknown)",
    ["status"],
)
STUCK_RESOLVED = Counter(
    "folio_notification_stuck_resolved",
    "Notifications found sending past the lease (a worker stopped mid hand-off) and marked uncertain",
)
PASSES = Counter(
    "folio_notification_sender_passes",
    "Sending passes finished with the database answering (one claim, its hand-offs and their outcomes); "
    "a pass that failed is not counted. Tests wait on it before asserting nothing more was sent",
)

PENDING = Gauge(
    "folio_notification_pending",
    "Notifications waiting for the SMTP server (pending, or sending right now)",
)


async def collect_pending(resources: Resources) -> None:
    """The worker's backlog task calls this every ``metrics_interval_seconds``."""
    async with resources.engine.connect() as connection:
        PENDING.set((await connection.execute(pending_count_query())).scalar_one())


def record(result: PassResult) -> None:
    """One finished pass: its hand-offs by outcome, the stuck rows it resolved, and the pass itself."""
    for status in result.outcomes:
        HAND_OFFS.labels(status=status.value).inc()
    if result.resolved_stuck:
        STUCK_RESOLVED.inc(result.resolved_stuck)
    PASSES.inc()
