"""Rating as the chassis runs it: its settings, unit of work, routes, consumers and migrations."""

from __future__ import annotations

from fastapi import APIRouter

from chassis import ServiceDefinition, packaged_scripts
from contracts import rating as messages
from rating.adapters.unit_of_work import RatingUnitOfWork, uow_factory
from rating.entrypoints.consumers import subscriptions
from rating.entrypoints.feedback_api import feedback_router
from rating.entrypoints.settings import RatingSettings

NAME = "rating"
# Inside the package, found by importlib.resources: a wheel install finds them as a checkout does.
MIGRATIONS_DIR = packaged_scripts("rating")


def routers() -> list[APIRouter]:
    return [feedback_router()]


def definition(settings: RatingSettings | None = None) -> ServiceDefinition[RatingSettings, RatingUnitOfWork]:
    """The service; ``settings`` fixes its settings (tests), else they are read from the environment."""

    def current() -> RatingSettings:
        return settings if settings is not None else RatingSettings.cached()

    return ServiceDefinition(
        name=NAME,
        settings_factory=current,
        uow_factory=uow_factory,
        migrations_dir=MIGRATIONS_DIR,
        publishes=(messages.FeedbackSubmitted, messages.FeedbackDeleted),
        relay=True,
        routers=routers,
        subscriptions=subscriptions,
        title="Folio rating",
        description="Customers' stars and comments on books, verified by their completed orders.",
    )
