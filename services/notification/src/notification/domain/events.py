"""What happened to a notification; the unit of work turns each into a message on the bus."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class NotificationEvent:
    notification_id: UUID
    source_message_id: UUID
    source_type: str
    order_id: UUID
    customer_id: str
    recipient: str
    template: str
    at: datetime


@dataclass(frozen=True, slots=True)
class NotificationSent(NotificationEvent):
    """The mail server accepted the e-mail."""


@dataclass(frozen=True, slots=True)
class NotificationFailed(NotificationEvent):
    """The e-mail was given up (attempts exhausted) or its delivery cannot be known (``uncertain``)."""

    reason: str
    attempts: int
