"""Notification as the chassis runs it: settings, unit of work, router, consumer and the sender."""

from __future__ import annotations

from fastapi import APIRouter

from chassis import ServiceDefinition, packaged_scripts
from contracts import notification as messages
from notification.adapters.unit_of_work import NotificationUnitOfWork, uow_factory
from notification.entrypoints.consumers import subscriptions
from notification.entrypoints.metrics import collect_pending
from notification.entrypoints.notifications_api import notifications_router
from notification.entrypoints.sender import send_notifications
from notification.entrypoints.settings import NotificationSettings

NAME = "notification"
# Inside the package, found by importlib.resources: a wheel install finds them as a checkout does.
MIGRATIONS_DIR = packaged_scripts("notification")


def routers() -> list[APIRouter]:
    return [notifications_router()]


def definition(
    settings: NotificationSettings | None = None,
) -> ServiceDefinition[NotificationSettings, NotificationUnitOfWork]:
    """The service; ``settings`` fixes its settings (tests), else they are read from the environment."""

    def current() -> NotificationSettings:
        return settings if settings is not None else NotificationSettings.cached()

    return ServiceDefinition(
        name=NAME,
        settings_factory=current,
        # The chassis hands the builder only sessions: the delivery policy comes from the same settings.
        uow_factory=lambda sessions: uow_factory(sessions, current().delivery_policy()),
        migrations_dir=MIGRATIONS_DIR,
        publishes=(messages.NotificationSent, messages.NotificationFailed),
        relay=True,
        routers=routers,
        subscriptions=subscriptions,
        background=[send_notifications],
        gauges=[collect_pending],
        title="Folio notification",
        description="E-mails for order events: one per message, over SMTP, listed per customer or order.",
    )
