"""What a service tells the chassis about itself, and what the chassis hands back to its code at run time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from chassis.messaging.consumer import Subscription
from chassis.settings import ServiceSettings
from chassis.uow import UnitOfWork
from contracts.base import Message

S = TypeVar("S", bound=ServiceSettings)
U = TypeVar("U", bound=UnitOfWork)
# AppResources is read-only, so resources of a service's own types are resources of the chassis' base types:
# the chassis' timers (typed on the base classes) run beside the service's own.
S_co = TypeVar("S_co", bound=ServiceSettings, covariant=True)
U_co = TypeVar("U_co", bound=UnitOfWork, covariant=True)

# Builds the service's unit of work (its own subclass, with its repositories) on a session factory.
UowFactoryBuilder = Callable[[async_sessionmaker[AsyncSession]], Callable[[], U]]
# A service timer run by the worker until ``resources.stop`` is set (the saga's deadline scanner).
BackgroundTask = Callable[["AppResources[S, U]"], Awaitable[None]]
# Sets some of the service's own Prometheus gauges from a cheap query; the worker's metrics task calls it
# every ``metrics_interval_seconds`` (see ``chassis.observability.backlog``).
GaugeCollector = Callable[["AppResources[S, U]"], Awaitable[None]]


def _no_subscriptions() -> Sequence[Subscription[Any]]:
    return ()


@dataclass(frozen=True, kw_only=True)
class ServiceDefinition(Generic[S, U]):
    """One service as the chassis runs it in each role (``api``, ``worker``, ``all``, ``migrate``).

    Generic over the service's settings and unit of work, so its timers and routes get its own types.
    Everything is a factory or plain data, so importing a service's definition creates nothing.
    """

    name: str
    settings_factory: Callable[[], S]
    uow_factory: UowFactoryBuilder[U]
    migrations_dir: Path
    # What the service sends (events and commands): checked against ``contracts.topology`` by its tests.
    publishes: tuple[type[Message], ...] = ()
    # Whether the worker runs the outbox relay; a service that sends nothing has no outbox to drain.
    relay: bool = False
    # Mounted as given: a router's own prefix decides its path (``/api/v1/books``).
    routers: Sequence[APIRouter] | Callable[[], Sequence[APIRouter]] = ()
    subscriptions: Callable[[], Sequence[Subscription[Any]]] = _no_subscriptions
    background: Sequence[BackgroundTask[S, U]] = ()
    gauges: Sequence[GaugeCollector[S, U]] = ()
    version: str = "0.1.0"
    title: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        # Rows written to an outbox nobody drains would wait there, unseen, for ever.
        if self.publishes and not self.relay:
            raise ValueError(f"{self.name} publishes {len(self.publishes)} message types but runs no relay")

    def api_routers(self) -> Sequence[APIRouter]:
        return self.routers() if callable(self.routers) else self.routers


@dataclass(frozen=True, kw_only=True)
class AppResources(Generic[S_co, U_co]):
    """The running process's shared objects, as background tasks and tests get them."""

    definition: ServiceDefinition[Any, Any]
    settings: S_co
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    uow_factory: Callable[[], U_co]
    # Set when the process is asked to stop; long-running tasks return soon after.
    stop: asyncio.Event


# Any service's resources, as the chassis' own timers take them (AppResources is covariant).
Resources = AppResources[ServiceSettings, UnitOfWork]
