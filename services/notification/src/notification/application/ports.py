"""What the handlers need from storage and from the mail server, as protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self
from uuid import UUID

from notification.application.views import NotificationView
from notification.domain.delivery import DeliveryOutcome, DeliveryPolicy
from notification.domain.notification import Notification, Status


class Notifications(Protocol):
    async def add(self, notification: Notification) -> bool:
        """Insert ``notification``; False (nothing written) when its source message already has one."""

    async def save(self, notification: Notification) -> None: ...

    async def save_all(self, notifications: Sequence[Notification]) -> None:
        """Save each of ``notifications`` (in one statement)."""

    async def save_settled(self, notification: Notification, *, attempt: int) -> bool:
        """Save the outcome of attempt ``attempt``, unless the row is no longer ``sending`` that attempt
        (recovery or a withdrawal resolved it meanwhile): False then, and nothing is written."""

    async def status_of(self, notification_id: UUID) -> Status | None:
        """Where the notification stands now; None when there is none."""

    async def lock_due(self, now: datetime, limit: int) -> Sequence[Notification]:
        """Due pending notifications, locked for this transaction; rows locked elsewhere are skipped."""

    async def next_due(self) -> datetime | None:
        """When the nearest pending notification is due (past or not); None when none is pending."""

    async def lock_stuck(self, claimed_before: datetime, limit: int) -> Sequence[Notification]:
        """Notifications ``sending`` since before ``claimed_before``, locked likewise."""

    async def lock_claimed(self, claim_id: UUID) -> Sequence[Notification]:
        """Notifications still ``sending`` for the claim ``claim_id``, locked for this transaction."""


class Reads(Protocol):
    async def notifications(
        self, *, customer_id: str | None, order_id: UUID | None, offset: int, limit: int
    ) -> tuple[Sequence[NotificationView], int]: ...


class NotificationUow(Protocol):
    # Read-only in the protocol, so a unit of work may hold narrower (concrete) repositories.
    @property
    def notifications(self) -> Notifications: ...
    @property
    def reads(self) -> Reads: ...
    @property
    def policy(self) -> DeliveryPolicy: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def track(self, aggregate: Any) -> None: ...
    async def commit(self) -> None: ...


class Mailer(Protocol):
    @property
    def sessions(self) -> int:
        """How many hand-offs the mailer runs at once; the sender claims no more than that per pass."""

    async def deliver(self, notification: Notification) -> DeliveryOutcome:
        """Hand the notification's e-mail to the mail server; never raises for what the server did."""
