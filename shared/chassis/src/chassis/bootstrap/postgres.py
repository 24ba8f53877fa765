"""Databases and login roles on PostgreSQL, through an admin (superuser) connection; idempotent.

Isolation: each database the bootstrap creates has every PUBLIC privilege revoked, so only its owner role
(and superusers) can connect. Databases the bootstrap did not create (``postgres``, ``template1``) are left
alone unless asked (``lock_databases``): on a shared server, revoking PUBLIC's CONNECT there would lock out
everyone else. Where they stay open, pg_hba.conf keeps service roles out (see the CLI's ``--help``).
"""

from __future__ import annotations

import asyncpg

from chassis.bootstrap.changes import Action, Change
from chassis.bootstrap.definitions import Definitions, ServiceAccess
from chassis.bootstrap.passwords import postgres_password_matches, scram_verifier

DEFAULT_DATABASES = ("postgres", "template1")


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def apply(
    conn: asyncpg.Connection, definitions: Definitions, *, dry_run: bool = False, lock: tuple[str, ...] = ()
) -> list[Change]:
    changes = [await _group(conn, definitions.group_role, dry_run)]
    for service in definitions.services:
        changes.append(await _role(conn, service, definitions.group_role, dry_run))
        changes.append(await _database(conn, service, dry_run))
        changes.append(await _database_acl(conn, service.database, service.role, dry_run))
    for database in lock:
        changes.append(await _database_acl(conn, database, None, dry_run))
    return changes


async def _group(conn: asyncpg.Connection, group: str, dry_run: bool) -> Change:
    if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", group):
        return Change("postgres", "role", group, "present")
    if not dry_run:
        await conn.execute(f"CREATE ROLE {ident(group)} NOLOGIN")
    return Change("postgres", "role", group, "created")


async def _role(conn: asyncpg.Connection, service: ServiceAccess, group: str, dry_run: bool) -> Change:
    role = service.role
    password = literal(scram_verifier(role, service.db_password))
    row = await conn.fetchrow(
        "SELECT a.rolcanlogin, a.rolpassword, a.rolsuper, EXISTS (SELECT 1 FROM pg_auth_members m"
        " JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = a.oid AND g.rolname = $2) AS member"
        " FROM pg_authid a WHERE a.rolname = $1",
        role,
        group,
    )
    action: Action
    if row is None:
        action = "created"
        statement = f"CREATE ROLE {ident(role)} LOGIN PASSWORD {password} IN ROLE {ident(group)}"
    elif (
        row["rolcanlogin"]
        and not row["rolsuper"]
        and row["member"]
        and postgres_password_matches(row["rolpassword"], role, service.db_password)
    ):
        return Change("postgres", "role", role, "present")
    else:
        action = "updated"
        statement = f"ALTER ROLE {ident(role)} LOGIN NOSUPERUSER PASSWORD {password}"
    if not dry_run:
        await conn.execute(statement)
        await conn.execute(f"GRANT {ident(group)} TO {ident(role)}")
    return Change("postgres", "role", role, action)


async def _database(conn: asyncpg.Connection, service: ServiceAccess, dry_run: bool) -> Change:
    owner = await conn.fetchval(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", service.database
    )
    if owner == service.role:
        return Change("postgres", "database", service.database, "present")
    if not dry_run:
        if owner is None:
            await conn.execute(f"CREATE DATABASE {ident(service.database)} OWNER {ident(service.role)}")
        else:
            await conn.execute(f"ALTER DATABASE {ident(service.database)} OWNER TO {ident(service.role)}")
    return Change("postgres", "database", service.database, "created" if owner is None else "updated")


async def _database_acl(conn: asyncpg.Connection, database: str, owner: str | None, dry_run: bool) -> Change:
    """Revoke PUBLIC's privileges on ``database``; its owner keeps CONNECT (and TEMPORARY)."""
    name = f"{database} (no PUBLIC connect)"
    exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
    if not exists:
        # Only in a dry run, where the database is not created yet.
        return Change("postgres", "grant", name, "updated" if dry_run else "absent")
    # A locked foreign database keeps PUBLIC's other privileges: only CONNECT is taken away there.
    public_privileges = await conn.fetchval(
        "SELECT count(*) FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a"
        " WHERE d.datname = $1 AND a.grantee = 0 AND ($2 OR a.privilege_type = 'CONNECT')",
        database,
        owner is not None,
    )
    if not public_privileges:
        return Change("postgres", "grant", name, "present")
    if not dry_run:
        if owner is None:
            await conn.execute(f"REVOKE CONNECT ON DATABASE {ident(database)} FROM PUBLIC")
        else:
            await conn.execute(f"REVOKE ALL ON DATABASE {ident(database)} FROM PUBLIC")
            await conn.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {ident(database)} TO {ident(owner)}")
    return Change("postgres", "grant", name, "updated")


async def teardown(
    conn: asyncpg.Connection, definitions: Definitions, *, dry_run: bool = False
) -> list[Change]:
    changes = []
    for service in definitions.services:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", service.database)
        if exists and not dry_run:
            await conn.execute(f"DROP DATABASE IF EXISTS {ident(service.database)} WITH (FORCE)")
        changes.append(Change("postgres", "database", service.database, "removed" if exists else "absent"))
    for role in [*(s.role for s in definitions.services), definitions.group_role]:
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        if exists and not dry_run:
            await conn.execute(f"DROP ROLE IF EXISTS {ident(role)}")
        changes.append(Change("postgres", "role", role, "removed" if exists else "absent"))
    return changes
