"""The transactional outbox's relay: from committed outbox rows to confirmed publishes on RabbitMQ."""

from chassis.outbox.options import RelayOptions, retry_delay
from chassis.outbox.relay import OutboxRelay

__all__ = ["OutboxRelay", "RelayOptions", "retry_delay"]
