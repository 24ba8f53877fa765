"""The sender's Prometheus metrics, served on the chassis' ``/metrics`` with everything else."""

from __future__ import annotations

from prometheus_client import Counter

from notification.application.sending import PassResult

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


def record(result: PassResult) -> None:
    for status in result.outcomes:
        HAND_OFFS.labels(status=status.value).inc()
    if result.resolved_stuck:
        STUCK_RESOLVED.inc(result.resolved_stuck)
