"""Ordering as the chassis runs it: settings, unit of work, routers, consumers and the deadline scanner."""

from __future__ import annotations

from fastapi import APIRouter

from chassis import ServiceDefinition, packaged_scripts
from contracts import catalog as catalog_commands
from contracts import ordering as messages
from ordering.adapters.saga_metrics import collect_sagas
from ordering.adapters.unit_of_work import OrderingUnitOfWork, uow_factory
from ordering.entrypoints.admission import OrderAdmission
from ordering.entrypoints.consumers import subscriptions
from ordering.entrypoints.deadlines import run_deadline_scanner
from ordering.entrypoints.orders_api import orders_router
from ordering.entrypoints.settings import OrderingSettings

NAME = "ordering"
# Inside the package, found by importlib.resources: a wheel install finds them as a checkout does.
MIGRATIONS_DIR = packaged_scripts("ordering")


def routers(settings: OrderingSettings) -> list[APIRouter]:
    return [orders_router(OrderAdmission.from_settings(settings))]


def definition(
    settings: OrderingSettings | None = None,
) -> ServiceDefinition[OrderingSettings, OrderingUnitOfWork]:
    """The service; ``settings`` fixes its settings (tests), else they are read from the environment."""

    def current() -> OrderingSettings:
        return settings if settings is not None else OrderingSettings.cached()

    return ServiceDefinition(
        name=NAME,
        settings_factory=current,
        # The chassis hands the builder only sessions: the saga's policy comes from the same settings.
        uow_factory=lambda sessions: uow_factory(sessions, current().saga_policy()),
        migrations_dir=MIGRATIONS_DIR,
        publishes=(
            messages.OrderPlaced,
            messages.OrderConfirmed,
            messages.OrderCancelled,
            messages.OrderCompleted,
            catalog_commands.ReserveStock,
            catalog_commands.ReleaseStock,
        ),
        relay=True,
        routers=lambda: routers(current()),
        subscriptions=subscriptions,
        background=[run_deadline_scanner],
        gauges=[collect_sagas],
        title="Folio ordering",
        description="Orders and the order saga: placing, reserving stock through the catalog, cancelling.",
    )
