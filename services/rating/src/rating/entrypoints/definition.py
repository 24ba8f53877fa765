"""Rating as the chassis runs it: its settings, unit of work, routes, consumers and migrations."""

from __future__ import annotations

from fastapi import APIRouter

from chassis.definition import ServiceDefinition
from chassis.migrations import packaged_scripts
from rating.adapters.unit_of_work import uow_factory
from rating.entrypoints import feedback_api
from rating.entrypoints.consumers import subscriptions
from rating.entrypoints.settings import get_settings

# Inside the package, found by importlib.resources: a wheel install finds them as a checkout does.
MIGRATIONS_DIR = packaged_scripts("rating")


def routers() -> list[APIRouter]:
    return [feedback_api.router]


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="rating",
        settings_factory=get_settings,
        uow_factory=uow_factory,
        migrations_dir=MIGRATIONS_DIR,
        routers=routers,
        subscriptions=subscriptions,
        title="Folio rating",
        description="Customers' stars and comments on books, verified by their completed orders.",
    )
