"""As much of a service as ``folio-parked --service parkedsvc`` needs: settings and subscriptions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic_settings import SettingsConfigDict

from chassis.definition import ServiceDefinition
from chassis.messaging.consumer import Subscription
from chassis.settings import ServiceSettings
from chassis.uow import UnitOfWork
from contracts.catalog import BookCreated


class ParkedSvcSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PARKEDSVC_")


async def ignore(message: Any, uow: UnitOfWork) -> None:
    return None


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="parkedsvc",
        # Read afresh each time: the test sets the environment first.
        settings_factory=ParkedSvcSettings,
        uow_factory=lambda sessions: lambda: UnitOfWork(sessions, source="parkedsvc"),
        migrations_dir=Path(__file__).parent,
        subscriptions=lambda: [Subscription("books", (BookCreated,), ignore)],
    )
