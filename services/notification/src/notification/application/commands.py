"""The requests that change notification, as plain values (the consumer and the sender build them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid4

from notification.domain.content import EmailContent
from notification.domain.delivery import DeliveryOutcome
from notification.domain.notification import Notification


@dataclass(frozen=True, slots=True)
class RecordNotification:
    notification_id: UUID
    source_message_id: UUID
    source_type: str
    order_id: UUID
    customer_id: str
    recipient: str
    template: str
    content: EmailContent
    at: datetime
    # The recording handler's trace context, kept so that the e-mail's hand-off joins its trace.
    traceparent: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimDue:
    now: datetime
    limit: int
    claim_id: UUID = field(default_factory=uuid4)


@dataclass(frozen=True, slots=True)
class WithdrawClaim:
    claim_id: UUID
    now: datetime


@dataclass(frozen=True, slots=True)
class SettleAttempt:
    claimed: Notification
    outcome: DeliveryOutcome
    now: datetime


@dataclass(frozen=True, slots=True)
class ResolveStuck:
    now: datetime
    limit: int
