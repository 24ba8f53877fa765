"""`migrate` connects as the bootstrap's migration role when given its URL, api and worker never do."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic_settings import SettingsConfigDict

from chassis import runner
from chassis.definition import ServiceDefinition
from chassis.settings import ServiceSettings
from chassis.uow import UnitOfWork

RUNTIME = "postgresql://svc_runtime:pw@db.example:5432/svc"
OWNER = "postgresql://svc:pw@db.example:5432/svc"


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="svc",
        settings_factory=ServiceSettings,
        uow_factory=lambda factory: lambda: UnitOfWork(factory),
        migrations_dir=Path("migrations"),
    )


@pytest.mark.parametrize(("migration_url", "expected"), [(OWNER, OWNER), (None, RUNTIME)])
async def test_migrate_uses_the_migration_url_and_falls_back_to_the_database_url(
    monkeypatch: pytest.MonkeyPatch, migration_url: str | None, expected: str
) -> None:
    used: list[str] = []

    async def upgrade_to_head(migrations_dir: Path, url: str) -> None:
        used.append(url)

    monkeypatch.setattr(runner, "upgrade_to_head", upgrade_to_head)
    settings = ServiceSettings(database_url=RUNTIME, migration_database_url=migration_url)

    await runner.migrate(definition(), settings, asyncio.Event())

    assert used == [expected]


def test_the_migration_url_is_read_with_the_service_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    class SvcSettings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="SVC_")

    monkeypatch.setenv("SVC_MIGRATION_DATABASE_URL", OWNER)
    assert SvcSettings().migration_database_url == OWNER
