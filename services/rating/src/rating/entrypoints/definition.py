"""Rating as the chassis runs it: its settings, unit of work, routes, consumers and migrations."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from chassis.definition import ServiceDefinition
from rating.adapters.unit_of_work import uow_factory
from rating.entrypoints import feedback_api
from rating.entrypoints.consumers import subscriptions
from rating.entrypoints.settings import get_settings

# services/rating/migrations, beside src/ (an installed image copies it to the same place).
MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


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
