"""What a service tells the chassis about itself, and what the chassis hands back to its code at run time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from chassis.messaging.consumer import Subscription
from chassis.settings import ServiceSettings
from chassis.uow import UnitOfWork

# Builds the service's unit of work (its own subclass, with its repositories) on a session factory.
UowFactoryBuilder = Callable[[async_sessionmaker[AsyncSession]], Callable[[], UnitOfWork]]
# A service timer run by the worker until ``resources.stop`` is set (the saga's deadline scanner).
BackgroundTask = Callable[["AppResources"], Awaitable[None]]
# Sets some of the service's own Prometheus gauges from a cheap query; the worker's metrics task calls it
# every ``metrics_interval_seconds`` (see ``chassis.observability.backlog``).
GaugeCollector = Callable[["AppResources"], Awaitable[None]]


def _no_subscriptions() -> Sequence[Subscription[Any]]:
    return ()


@dataclass(frozen=True, kw_only=True)
class ServiceDefinition:
    """One service as the chassis runs it in each role (``api``, ``worker``, ``all``, ``migrate``).

    Everything is a factory or plain data, so importing a service's definition creates nothing.
    """

    name: str
    settings_factory: Callable[[], ServiceSettings]
    uow_factory: UowFactoryBuilder
    migrations_dir: Path
    # Mounted as given: a router's own prefix decides its path (``/api/v1/books``).
    routers: Sequence[APIRouter] | Callable[[], Sequence[APIRouter]] = ()
    subscriptions: Callable[[], Sequence[Subscription[Any]]] = _no_subscriptions
    background: Sequence[BackgroundTask] = ()
    gauges: Sequence[GaugeCollector] = ()
    version: str = "0.1.0"
    title: str | None = None
    description: str | None = None

    def api_routers(self) -> Sequence[APIRouter]:
        return self.routers() if callable(self.routers) else self.routers


@dataclass(frozen=True, kw_only=True)
class AppResources:
    """The running process's shared objects, as background tasks and tests get them."""

    definition: ServiceDefinition
    settings: ServiceSettings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    uow_factory: Callable[[], UnitOfWork]
    # Set when the process is asked to stop; long-running tasks return soon after.
    stop: asyncio.Event
