"""What the notification API answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from notification.application.views import NotificationView

StatusOut = Literal["pending", "sending", "sent", "failed", "uncertain"]


class NotificationOut(BaseModel):
    id: UUID
    order_id: UUID
    customer_id: str
    recipient: str
    template: str = Field(examples=["order-confirmed"])
    subject: str
    status: StatusOut = Field(
        description="pending/sending: on its way; sent: accepted by the mail server; failed: refused on "
        "every attempt; uncertain: the hand-off was cut short and is never retried (at most once)."
    )
    attempts: int
    source_type: str = Field(description="The CloudEvents type of the message that asked for the e-mail")
    source_message_id: UUID
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None

    @classmethod
    def of(cls, view: NotificationView) -> NotificationOut:
        return cls.model_validate(view, from_attributes=True)
