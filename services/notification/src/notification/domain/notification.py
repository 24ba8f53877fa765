"""The Notification aggregate: one e-mail asked for by one source message, and what became of it.

::

    pending ──start_attempt──► sending ──Accepted──► sent
       ▲                          │
       └──Refused, transient──────┤
                                  ├──Refused, permanent or past the horizon──► failed
                                  └──Unknown / lease expired─► uncertain

``sent``, ``failed`` and ``uncertain`` are final. ``uncertain`` is the price of never sending an e-mail twice:
when the outcome of a hand-off cannot be known, the notification is not tried again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from notification.domain.content import EmailContent
from notification.domain.delivery import Accepted, DeliveryOutcome, DeliveryPolicy, Refused, Unknown
from notification.domain.errors import TransitionNotAllowed
from notification.domain.events import NotificationFailed, NotificationSent

# The reason published when a worker stopped between handing an e-mail over and recording the answer.
WORKER_STOPPED = "delivery unknown: worker stopped during SMTP hand-off"
MAX_ERROR_LENGTH = 1000


class Status(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNCERTAIN = "uncertain"

    @property
    def is_final(self) -> bool:
        return self in (Status.SENT, Status.FAILED, Status.UNCERTAIN)


@dataclass(kw_only=True, eq=False)
class Notification:
    id: UUID
    # The message that asked for this e-mail (its CloudEvents id and type); one notification per message.
    source_message_id: UUID
    source_type: str
    order_id: UUID
    customer_id: str
    recipient: str
    template: str
    content: EmailContent
    status: Status
    # Hand-offs started so far, the one in flight included.
    attempts: int
    next_attempt_at: datetime
    # When the attempt in flight started; with the lease it tells a stopped worker's attempt from a live one.
    claimed_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None
    # The W3C trace context of the handler that recorded it, opaque here: the hand-off joins that trace.
    traceparent: str | None = None
    # Which claim started the attempt in flight: a worker that never heard whether its claim committed
    # takes back exactly its own rows, never another worker's.
    claim_id: UUID | None = None
    events: list[Any] = field(default_factory=list)

    @classmethod
    def record(
        cls,
        *,
        notification_id: UUID,
        source_message_id: UUID,
        source_type: str,
        order_id: UUID,
        customer_id: str,
        recipient: str,
        template: str,
        content: EmailContent,
        at: datetime,
        traceparent: str | None = None,
    ) -> Notification:
        """A new notification, due at once."""
        if at.tzinfo is None:
            raise ValueError("times must be timezone-aware")
        if not recipient.strip():
            raise ValueError("a notification needs a recipient")
        return cls(
            id=notification_id,
            source_message_id=source_message_id,
            source_type=source_type,
            order_id=order_id,
            customer_id=customer_id,
            recipient=recipient,
            template=template,
            content=content,
            status=Status.PENDING,
            attempts=0,
            next_attempt_at=at,
            claimed_at=None,
            last_error=None,
            created_at=at,
            updated_at=at,
            traceparent=traceparent,
        )

    def is_due(self, now: datetime) -> bool:
        return self.status is Status.PENDING and self.next_attempt_at <= now

    def is_stuck(self, now: datetime, policy: DeliveryPolicy) -> bool:
        """Still ``sending`` past the lease: the worker that claimed it stopped mid-attempt."""
        return (
            self.status is Status.SENDING
            and self.claimed_at is not None
            and self.claimed_at + policy.sending_lease <= now
        )

    def start_attempt(self, now: datetime, claim_id: UUID | None = None) -> None:
        """Claim the notification for one hand-off; committed before the mail server is contacted."""
        self._require(Status.PENDING, "start an attempt")
        if not self.is_due(now):
            raise TransitionNotAllowed(self.id, f"{self.status} until {self.next_attempt_at}", "start early")
        self.status = Status.SENDING
        self.attempts += 1
        self.claimed_at = now
        self.claim_id = claim_id
        self.updated_at = now

    def withdraw_claim(self, claim_id: UUID, now: datetime) -> bool:
        """Undo :meth:`start_attempt` of claim ``claim_id``, which handed nothing over; False if not its."""
        if self.status is not Status.SENDING or self.claim_id != claim_id:
            return False
        self.status = Status.PENDING
        self.attempts -= 1
        self.claimed_at = None
        self.claim_id = None
        self.updated_at = now
        return True

    def settle(self, outcome: DeliveryOutcome, now: datetime, policy: DeliveryPolicy) -> None:
        """Record what the hand-off started by :meth:`start_attempt` ended with."""
        match outcome:
            case Accepted():
                self._delivered(now)
            case Refused(reason=reason, permanent=permanent):
                self._not_delivered(reason, permanent, now, policy)
            case Unknown(reason=reason):
                self.give_up_unknown(reason, now)

    def give_up_unknown(self, reason: str, now: datetime) -> None:
        """The e-mail may have been accepted: never try again, and say so (at most once)."""
        self._require(Status.SENDING, "mark the delivery unknown")
        self.status = Status.UNCERTAIN
        self.last_error = _short(reason)
        self.claimed_at = None
        self.claim_id = None
        self.updated_at = now
        self._failed(self.last_error, now)

    def _delivered(self, now: datetime) -> None:
        self._require(Status.SENDING, "mark it sent")
        self.status = Status.SENT
        self.sent_at = now
        self.claimed_at = None
        self.claim_id = None
        self.updated_at = now
        self.events.append(NotificationSent(**self._event_fields(now)))

    def _not_delivered(self, reason: str, permanent: bool, now: datetime, policy: DeliveryPolicy) -> None:
        self._require(Status.SENDING, "record a refusal")
        self.last_error = _short(reason)
        self.claimed_at = None
        self.claim_id = None
        self.updated_at = now
        if permanent:
            self.status = Status.FAILED
            self._failed(self.last_error, now)
        elif policy.gives_up(self.attempts):
            self.status = Status.FAILED
            self._failed(f"gave up after {self.attempts} attempts: {self.last_error}", now)
        else:
            self.status = Status.PENDING
            self.next_attempt_at = now + policy.pause(self.attempts)

    def _failed(self, reason: str, now: datetime) -> None:
        self.events.append(
            NotificationFailed(**self._event_fields(now), reason=_short(reason), attempts=self.attempts)
        )

    def _event_fields(self, now: datetime) -> dict[str, Any]:
        return {
            "notification_id": self.id,
            "source_message_id": self.source_message_id,
            "source_type": self.source_type,
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "recipient": self.recipient,
            "template": self.template,
            "at": now,
        }

    def _require(self, status: Status, move: str) -> None:
        if self.status is not status:
            raise TransitionNotAllowed(self.id, self.status, move)


def _short(text: str) -> str:
    text = text.strip() or "no reason given"
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"
