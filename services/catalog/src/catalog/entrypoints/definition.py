"""The catalog as the chassis runs it: its settings, unit of work, routes, consumers and migrations."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from catalog.adapters.unit_of_work import uow_factory
from catalog.entrypoints import books_api, parties_api
from catalog.entrypoints.consumers import subscriptions
from catalog.entrypoints.settings import get_settings
from chassis.definition import ServiceDefinition

# services/catalog/migrations, beside src/ (an installed image copies it to the same place).
MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


def routers() -> list[APIRouter]:
    return [books_api.router, *parties_api.routers()]


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="catalog",
        settings_factory=get_settings,
        uow_factory=uow_factory,
        migrations_dir=MIGRATIONS_DIR,
        routers=routers,
        subscriptions=subscriptions,
        title="Folio catalog",
        description="Books, authors, categories and publishers; stock and its reservations for orders.",
    )
