"""What readers of the notification list get: the outcome of each e-mail, never its internals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class NotificationView:
    id: UUID
    order_id: UUID
    customer_id: str
    recipient: str
    template: str
    subject: str
    status: str
    attempts: int
    source_type: str
    source_message_id: UUID
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
