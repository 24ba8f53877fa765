"""Alembic plumbing shared by every service, so that a service's ``migrations/env.py`` is three lines::

    import chassis.tables
    from catalog.adapters.tables import metadata
    from chassis.migrations import run_migrations

    run_migrations(target_metadata=[metadata, chassis.tables.metadata])

Migrations run on an async engine (asyncpg). ``upgrade_to_head`` is what the ``migrate`` role and tests call;
the ``alembic`` CLI works too, taking the database URL from ``run_migrations(url=...)`` or ``sqlalchemy.url``.

Concurrent upgrades of one database (two ``migrate`` jobs) queue on an advisory lock instead of racing.

The chassis tables (outbox, inbox, idempotency keys) are migrated by the chassis itself: its revisions,
in ``chassis/migrations_versions`` and labelled ``chassis``, are a second version location of every
service's scripts (``alembic_config`` adds it), and a service's first revision
``depends_on = "chassis_0001"``. A service's scripts therefore have two heads, its own and the chassis's;
everything here upgrades to and checks ``heads``. A config built elsewhere (an ``alembic.ini``) must list
``CHASSIS_VERSIONS`` in ``version_locations`` too; a new service revision names its parent
(``alembic revision --head <service head>``), since ``head`` alone is ambiguous.
"""

from __future__ import annotations

import asyncio
import enum
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from chassis.db import async_url

# Arbitrary, fixed: every Folio database takes this advisory lock while migrating.
MIGRATION_LOCK_KEY = 7_245_112_901

# Alembic's ``context`` is one module-level proxy per process: two upgrades in one process take turns.
_alembic_in_use = asyncio.Lock()

# Keys under Config.attributes through which the programmatic API hands env.py what it needs.
CONNECTION_ATTRIBUTE = "connection"
URL_ATTRIBUTE = "database_url"


def packaged_scripts(package: str, folder: str = "migrations") -> Path:
    """The Alembic scripts shipped inside ``package`` (``<package>/migrations``), wherever it is installed.

    Found through ``importlib.resources``, so that an editable checkout, a wheel in a venv and an image
    all answer the same. Alembic reads scripts from the file system, so a package that cannot give a real
    folder (one imported from a zip) is refused here rather than at the first upgrade.
    """
    location = resources.files(package) / folder
    if not isinstance(location, Path):
        raise RuntimeError(f"{package}/{folder} is not a folder on disk ({location!r}): install it unzipped")
    if not location.is_dir():
        raise RuntimeError(f"{package} ships no {folder}/ folder (expected at {location})")
    return location


# The chassis's own revisions (branch label ``chassis``), shipped inside the package.
CHASSIS_VERSIONS = packaged_scripts("chassis", "migrations_versions")


def alembic_config(script_location: str | Path, database_url: str | None = None) -> Config:
    """An Alembic config without an ini file: the scripts' location and, optionally, the database.

    Its version locations are the service's ``versions`` folder and the chassis's revisions.
    """
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(version_locations(script_location)))
    if database_url is not None:
        config.attributes[URL_ATTRIBUTE] = database_url
    return config


def version_locations(script_location: str | Path) -> list[str]:
    """Where a service's revisions live: its own ``versions`` folder, then the chassis's."""
    return [str(Path(script_location) / "versions"), str(CHASSIS_VERSIONS)]


def run_migrations(*, target_metadata: MetaData | Sequence[MetaData], url: str | None = None) -> None:
    """The body of a service's ``env.py``: run the pending migrations online (or emit SQL offline)."""
    from alembic import context  # a proxy that only exists while Alembic runs env.py

    config = context.config
    connection = config.attributes.get(CONNECTION_ATTRIBUTE)
    metadata = target_metadata if isinstance(target_metadata, MetaData) else list(target_metadata)
    if context.is_offline_mode():
        context.configure(
            url=_database_url(config, url).replace("+asyncpg", ""),
            target_metadata=metadata,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    if connection is not None:
        _migrate(connection, metadata)
        return
    asyncio.run(_migrate_with_own_engine(_database_url(config, url), metadata))


def _database_url(config: Config, url: str | None) -> str:
    found = url or config.attributes.get(URL_ATTRIBUTE) or config.get_main_option("sqlalchemy.url")
    if not found:
        raise RuntimeError("no database URL: pass run_migrations(url=...) or set sqlalchemy.url")
    return str(found)


def _migrate(connection: Connection, metadata: MetaData | list[MetaData]) -> None:
    from alembic import context

    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


async def _migrate_with_own_engine(url: str, metadata: MetaData | list[MetaData]) -> None:
    engine = _new_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate, metadata)
            await connection.commit()
    finally:
        await engine.dispose()


def _new_engine(database_url: str) -> AsyncEngine:
    # One short-lived connection; a pool would only linger after the job.
    return create_async_engine(async_url(database_url), poolclass=NullPool)


async def upgrade(script_location: str | Path, database_url: str, revision: str = "heads") -> None:
    """Migrate ``database_url`` up to ``revision`` with the scripts under ``script_location``."""
    engine = _new_engine(database_url)
    config = alembic_config(script_location, database_url)

    def run(connection: Connection) -> None:
        config.attributes[CONNECTION_ATTRIBUTE] = connection
        command.upgrade(config, revision)

    try:
        async with _alembic_in_use, engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()


async def upgrade_to_head(script_location: str | Path, database_url: str) -> None:
    """Apply every pending migration under ``script_location`` (and the chassis's) to ``database_url``."""
    # "heads", not "head": the service's branch and the chassis's are two heads.
    await upgrade(script_location, database_url, "heads")


class MigrationState(enum.StrEnum):
    AT_HEAD = "at_head"
    # Older than this build's scripts: the migrate job has not run yet.
    BEHIND = "behind"
    # A newer build already migrated it (a rolling upgrade); this build's code still runs on it.
    AHEAD = "ahead"


@dataclass(frozen=True, slots=True)
class MigrationScripts:
    """What a service's migration scripts say, read once: their heads and every revision they know.

    ``applied_with`` maps a revision to the ones it implies (its ancestors and dependencies): a database at
    ``0001`` holds ``chassis_0001`` too, though ``alembic_version`` records only ``0001``.
    """

    heads: frozenset[str]
    known: frozenset[str]
    applied_with: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, script_location: str | Path) -> MigrationScripts:
        scripts = ScriptDirectory.from_config(alembic_config(script_location))
        known = frozenset(script.revision for script in scripts.walk_revisions())
        return cls(
            heads=frozenset(scripts.get_heads()),
            known=known,
            applied_with={
                revision: frozenset(script.revision for script in scripts.iterate_revisions(revision, "base"))
                for revision in known
            },
        )

    def state_of(self, current: Sequence[str]) -> MigrationState:
        revisions = frozenset(current)
        if revisions and not revisions <= self.known:
            return MigrationState.AHEAD
        applied = revisions.union(*(self.applied_with.get(revision, ()) for revision in revisions))
        if self.heads <= applied:
            return MigrationState.AT_HEAD
        return MigrationState.BEHIND


async def current_revisions(engine: AsyncEngine) -> tuple[str, ...]:
    """The revisions recorded in the database's ``alembic_version`` (empty when never migrated)."""
    # Read directly rather than through a MigrationContext, which logs two lines per readiness probe.
    async with engine.connect() as connection:
        if (await connection.execute(text("SELECT to_regclass('alembic_version')"))).scalar() is None:
            return ()
        rows = await connection.execute(text("SELECT version_num FROM alembic_version ORDER BY version_num"))
        return tuple(str(revision) for revision in rows.scalars())


async def migration_state(engine: AsyncEngine, scripts: MigrationScripts) -> MigrationState:
    return scripts.state_of(await current_revisions(engine))


async def is_at_head(script_location: str | Path, database_url: str) -> bool:
    """True when ``database_url`` carries every head of ``script_location`` (the chassis's included)."""
    engine = _new_engine(database_url)
    try:
        state = await migration_state(engine, MigrationScripts.load(script_location))
    finally:
        await engine.dispose()
    return state is MigrationState.AT_HEAD
