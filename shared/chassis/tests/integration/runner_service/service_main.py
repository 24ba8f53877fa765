"""A minimal service entry point for the runner's process tests: ``python service_main.py <role>``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from pydantic_settings import SettingsConfigDict

from chassis.definition import ServiceDefinition
from chassis.runner import main
from chassis.settings import ServiceSettings
from chassis.uow import UnitOfWork


class RunnerTestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RUNNERTEST_")


def routers() -> list[APIRouter]:
    router = APIRouter(prefix="/api/v1")

    @router.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return [router]


DEFINITION = ServiceDefinition(
    name="runnertest",
    settings_factory=RunnerTestSettings,
    uow_factory=lambda sessions: lambda: UnitOfWork(sessions, source="runnertest"),
    migrations_dir=Path(__file__).parents[1] / "alembic_scripts",
    # The process test watches the relay start and stop with the worker.
    relay=True,
    routers=routers,
)

if __name__ == "__main__":
    main(DEFINITION)
