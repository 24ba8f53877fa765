"""The catalog as the chassis runs it: its settings, unit of work, routes, consumers and migrations."""

from __future__ import annotations

from fastapi import APIRouter

from catalog.adapters.unit_of_work import CatalogUnitOfWork, uow_factory
from catalog.entrypoints.books_api import books_router
from catalog.entrypoints.consumers import subscriptions
from catalog.entrypoints.parties_api import authors_router, categories_router, publishers_router
from catalog.entrypoints.settings import CatalogSettings
from chassis import ServiceDefinition, packaged_scripts
from contracts import catalog as messages

NAME = "catalog"
# Inside the package, found by importlib.resources: a wheel install finds them as a checkout does.
MIGRATIONS_DIR = packaged_scripts("catalog")


def routers() -> list[APIRouter]:
    return [books_router(), authors_router(), categories_router(), publishers_router()]


def definition(
    settings: CatalogSettings | None = None,
) -> ServiceDefinition[CatalogSettings, CatalogUnitOfWork]:
    """The service; ``settings`` fixes its settings (tests), else they are read from the environment."""

    def current() -> CatalogSettings:
        return settings if settings is not None else CatalogSettings.cached()

    return ServiceDefinition(
        name=NAME,
        settings_factory=current,
        uow_factory=uow_factory,
        migrations_dir=MIGRATIONS_DIR,
        publishes=(
            messages.BookCreated,
            messages.BookUpdated,
            messages.BookDeleted,
            messages.StockReserved,
            messages.StockReservationRejected,
            messages.StockReleased,
        ),
        relay=True,
        routers=routers,
        subscriptions=subscriptions,
        title="Folio catalog",
        description="Books, authors, categories and publishers; stock and its reservations for orders.",
    )
