"""The PostgreSQL steps of ``postgres_plan`` applied to a live server through an admin (superuser)
connection: each step is checked first, so a second run changes nothing and a dry run says what would."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg

from folio_ops.bootstrap.changes import Action, Change
from folio_ops.bootstrap.definitions import Definitions
from folio_ops.bootstrap.passwords import postgres_password_matches
from folio_ops.bootstrap.postgres_plan import Step, ident, steps


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


async def apply(
    admin_url: str, definitions: Definitions, *, dry_run: bool = False, lock: tuple[str, ...] = ()
) -> list[Change]:
    conn = await asyncpg.connect(admin_url)
    try:
        return [await _apply(conn, admin_url, step, dry_run) for step in steps(definitions, lock=lock)]
    finally:
        await conn.close()


async def _apply(admin: asyncpg.Connection, admin_url: str, step: Step, dry_run: bool) -> Change:
    if step.on_database is not None and not await admin.fetchval(
        "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", step.on_database
    ):
        # Only in a dry run, where the database is not created yet.
        return Change("postgres", step.kind, step.name, "updated" if dry_run else "absent")
    conn = admin if step.database is None else await asyncpg.connect(with_database(admin_url, step.database))
    try:
        action: Action
        if step.exists is not None and not await conn.fetchval(f"SELECT {step.exists}"):
            action, statements = "created", step.create
        elif await _in_place(conn, step):
            return Change("postgres", step.kind, step.name, "present")
        else:
            action, statements = "updated", step.statements
        if not dry_run:
            for statement in statements:
                await conn.execute(statement)
    finally:
        if conn is not admin:
            await conn.close()
    return Change("postgres", step.kind, step.name, action)


async def _in_place(conn: asyncpg.Connection, step: Step) -> bool:
    if not await conn.fetchval(f"SELECT {step.in_place}"):
        return False
    if step.password is None:
        return True
    role, password = step.password
    stored = await conn.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", role)
    return postgres_password_matches(stored, role, password)


async def teardown(admin_url: str, definitions: Definitions, *, dry_run: bool = False) -> list[Change]:
    conn = await asyncpg.connect(admin_url)
    try:
        changes = []
        for service in definitions.services:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", service.database)
            if exists and not dry_run:
                await conn.execute(f"DROP DATABASE IF EXISTS {ident(service.database)} WITH (FORCE)")
            changes.append(
                Change("postgres", "database", service.database, "removed" if exists else "absent")
            )
        roles = [r for s in definitions.services for r in (s.runtime_role, s.migration_role)]
        for role in [*roles, definitions.group_role]:
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            if exists and not dry_run:
                await conn.execute(f"DROP ROLE IF EXISTS {ident(role)}")
            changes.append(Change("postgres", "role", role, "removed" if exists else "absent"))
    finally:
        await conn.close()
    return changes
