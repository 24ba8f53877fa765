"""Messages owned by notification: the outcome of each e-mail sent for another service's event."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import Field

from contracts.base import Event
from contracts.values import NonEmptyStr, UtcDateTime

__all__ = ["NotificationFailed", "NotificationSent"]


class _NotificationEvent(Event):
    OWNER: ClassVar[str] = "notification"
    SUBJECT: ClassVar[str] = "order_id"

    notification_id: UUID
    # The message that asked for this e-mail: its CloudEvents id and type.
    source_message_id: UUID
    source_type: NonEmptyStr
    order_id: UUID
    customer_id: NonEmptyStr
    recipient: NonEmptyStr
    template: NonEmptyStr


class NotificationSent(_NotificationEvent):
    """The e-mail was accepted by the mail server."""

    TYPE: ClassVar[str] = "folio.notification.notification-sent.v1"

    sent_at: UtcDateTime


class NotificationFailed(_NotificationEvent):
    """The e-mail could not be sent after every attempt."""

    TYPE: ClassVar[str] = "folio.notification.notification-failed.v1"

    reason: NonEmptyStr
    attempts: int = Field(ge=0)
    failed_at: UtcDateTime
