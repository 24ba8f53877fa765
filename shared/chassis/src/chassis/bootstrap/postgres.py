"""Databases and login roles on PostgreSQL, through an admin (superuser) connection; idempotent.

Per service two login roles: the migration role owns the database and its ``public`` schema (DDL), the
runtime role may connect and read and write the migration role's tables, nothing more. Its privileges are
default privileges of the migration role, so every table a later migration creates is covered, plus grants
on the tables already there (an older setup). No one else may create in ``public``.

Isolation: each database the bootstrap creates has every PUBLIC privilege revoked, so only the service's
roles (and superusers) can connect. Databases the bootstrap did not create (``postgres``, ``template1``)
are left alone unless asked (``lock``): on a shared server, revoking PUBLIC's CONNECT there would lock out
everyone else. Where they stay open, pg_hba.conf keeps service roles out (see the CLI's ``--help``).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg

from chassis.bootstrap.changes import Action, Change
from chassis.bootstrap.definitions import Definitions, ServiceAccess
from chassis.bootstrap.passwords import postgres_password_matches, scram_verifier

DEFAULT_DATABASES = ("postgres", "template1")
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
SEQUENCE_PRIVILEGES = ("USAGE", "SELECT")


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def database_grants(service: ServiceAccess) -> list[str]:
    """Who may connect to the service's database: its two roles (the migration role may also use TEMP)."""
    db = ident(service.database)
    return [
        f"REVOKE ALL ON DATABASE {db} FROM PUBLIC",
        f"GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {ident(service.migration_role)}",
        f"GRANT CONNECT ON DATABASE {db} TO {ident(service.runtime_role)}",
    ]


def schema_grants(service: ServiceAccess) -> list[str]:
    """Run inside the service's database: DDL for the migration role, DML for the runtime role.

    The one list the live apply, the compose init script and the Kubernetes clusters all run.
    """
    owner, runtime = ident(service.migration_role), ident(service.runtime_role)
    defaults = f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT"
    return [
        # PostgreSQL before 15 lets PUBLIC create in public; the owner keeps that right explicitly.
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT USAGE, CREATE ON SCHEMA public TO {owner}",
        f"GRANT USAGE ON SCHEMA public TO {runtime}",
        f"{defaults} {', '.join(TABLE_PRIVILEGES)} ON TABLES TO {runtime}",
        f"{defaults} {', '.join(SEQUENCE_PRIVILEGES)} ON SEQUENCES TO {runtime}",
        f"GRANT {', '.join(TABLE_PRIVILEGES)} ON ALL TABLES IN SCHEMA public TO {runtime}",
        f"GRANT {', '.join(SEQUENCE_PRIVILEGES)} ON ALL SEQUENCES IN SCHEMA public TO {runtime}",
    ]


# True when schema_grants has nothing left to do ($1 migration role, $2 runtime role).
SCHEMA_GRANTS_IN_PLACE = f"""
SELECT
  (SELECT count(*) FROM pg_default_acl d, aclexplode(d.defaclacl) a
    WHERE d.defaclrole = $1::text::regrole AND d.defaclnamespace = 'public'::regnamespace
      AND a.grantee = $2::text::regrole
      AND ((d.defaclobjtype = 'r' AND a.privilege_type IN ({", ".join(map(literal, TABLE_PRIVILEGES))}))
        OR (d.defaclobjtype = 'S' AND a.privilege_type IN ({", ".join(map(literal, SEQUENCE_PRIVILEGES))}))))
    = {len(TABLE_PRIVILEGES) + len(SEQUENCE_PRIVILEGES)}
  AND has_schema_privilege($2, 'public', 'USAGE') AND has_schema_privilege($1, 'public', 'CREATE')
  AND NOT EXISTS (SELECT FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
    WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE')
  AND NOT EXISTS (SELECT FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
    AND c.relkind IN ('r', 'p', 'v')
    AND NOT ({" AND ".join(f"has_table_privilege($2, c.oid, {literal(p)})" for p in TABLE_PRIVILEGES)}))
"""


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


async def apply(
    admin_url: str, definitions: Definitions, *, dry_run: bool = False, lock: tuple[str, ...] = ()
) -> list[Change]:
    conn = await asyncpg.connect(admin_url)
    try:
        changes = [await _group(conn, definitions.group_role, dry_run)]
        for service in definitions.services:
            group = definitions.group_role
            changes.append(
                await _role(conn, service.migration_role, service.migration_password, group, dry_run)
            )
            changes.append(await _role(conn, service.runtime_role, service.runtime_password, group, dry_run))
            changes.append(await _database(conn, service, dry_run))
            changes.append(await _database_acl(conn, service, dry_run))
        for database in lock:
            changes.append(await _lock(conn, database, dry_run))
    finally:
        await conn.close()
    for service in definitions.services:
        changes.append(await _schema(admin_url, service, dry_run))
    return changes


async def _group(conn: asyncpg.Connection, group: str, dry_run: bool) -> Change:
    if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", group):
        return Change("postgres", "role", group, "present")
    if not dry_run:
        await conn.execute(f"CREATE ROLE {ident(group)} NOLOGIN")
    return Change("postgres", "role", group, "created")


async def _role(conn: asyncpg.Connection, role: str, password: str, group: str, dry_run: bool) -> Change:
    verifier = literal(scram_verifier(role, password))
    row = await conn.fetchrow(
        "SELECT a.rolcanlogin, a.rolpassword, a.rolsuper, a.rolcreatedb, a.rolcreaterole,"
        " EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
        " WHERE m.member = a.oid AND g.rolname = $2) AS member"
        " FROM pg_authid a WHERE a.rolname = $1",
        role,
        group,
    )
    action: Action
    if row is None:
        action = "created"
        statement = f"CREATE ROLE {ident(role)} LOGIN PASSWORD {verifier} IN ROLE {ident(group)}"
    elif (
        row["rolcanlogin"]
        and not (row["rolsuper"] or row["rolcreatedb"] or row["rolcreaterole"])
        and row["member"]
        and postgres_password_matches(row["rolpassword"], role, password)
    ):
        return Change("postgres", "role", role, "present")
    else:
        action = "updated"
        statement = f"ALTER ROLE {ident(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {verifier}"
    if not dry_run:
        await conn.execute(statement)
        await conn.execute(f"GRANT {ident(group)} TO {ident(role)}")
    return Change("postgres", "role", role, action)


async def _database(conn: asyncpg.Connection, service: ServiceAccess, dry_run: bool) -> Change:
    owner = await conn.fetchval(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", service.database
    )
    if owner == service.migration_role:
        return Change("postgres", "database", service.database, "present")
    if not dry_run:
        if owner is None:
            await conn.execute(
                f"CREATE DATABASE {ident(service.database)} OWNER {ident(service.migration_role)}"
            )
        else:
            await conn.execute(
                f"ALTER DATABASE {ident(service.database)} OWNER TO {ident(service.migration_role)}"
            )
    return Change("postgres", "database", service.database, "created" if owner is None else "updated")


async def _database_acl(conn: asyncpg.Connection, service: ServiceAccess, dry_run: bool) -> Change:
    """Revoke PUBLIC's privileges on the service's database; its two roles may connect."""
    name = f"{service.database} (connect: own roles only)"
    exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", service.database)
    if not exists:
        # Only in a dry run, where the database is not created yet.
        return Change("postgres", "grant", name, "updated" if dry_run else "absent")
    in_place = await conn.fetchval(
        "SELECT NOT EXISTS (SELECT FROM pg_database d,"
        " aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a WHERE d.datname = $1 AND a.grantee = 0)"
        " AND has_database_privilege($2, $1, 'CONNECT') AND has_database_privilege($3, $1, 'CONNECT')"
        " AND NOT has_database_privilege($3, $1, 'TEMPORARY')",
        service.database,
        service.migration_role,
        service.runtime_role,
    )
    if in_place:
        return Change("postgres", "grant", name, "present")
    if not dry_run:
        for statement in database_grants(service):
            await conn.execute(statement)
    return Change("postgres", "grant", name, "updated")


async def _lock(conn: asyncpg.Connection, database: str, dry_run: bool) -> Change:
    """Revoke PUBLIC's CONNECT on a database the bootstrap did not create; its other privileges stay."""
    name = f"{database} (no PUBLIC connect)"
    public_connect = await conn.fetchval(
        "SELECT count(*) FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a"
        " WHERE d.datname = $1 AND a.grantee = 0 AND a.privilege_type = 'CONNECT'",
        database,
    )
    if not public_connect:
        return Change("postgres", "grant", name, "present")
    if not dry_run:
        await conn.execute(f"REVOKE CONNECT ON DATABASE {ident(database)} FROM PUBLIC")
    return Change("postgres", "grant", name, "updated")


async def _schema(admin_url: str, service: ServiceAccess, dry_run: bool) -> Change:
    name = f"{service.database} (runtime role: DML only)"
    try:
        conn = await asyncpg.connect(with_database(admin_url, service.database))
    except asyncpg.InvalidCatalogNameError:
        # Only in a dry run, where the database is not created yet.
        return Change("postgres", "grant", name, "updated" if dry_run else "absent")
    try:
        if await conn.fetchval(SCHEMA_GRANTS_IN_PLACE, service.migration_role, service.runtime_role):
            return Change("postgres", "grant", name, "present")
        if not dry_run:
            for statement in schema_grants(service):
                await conn.execute(statement)
    finally:
        await conn.close()
    return Change("postgres", "grant", name, "updated")


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
