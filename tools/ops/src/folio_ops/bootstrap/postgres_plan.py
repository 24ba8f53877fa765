"""What the bootstrap makes of PostgreSQL, as one list of steps: the live apply runs them on a server
(``postgres``), the init script is them written out as SQL (``exporters.postgres_init``).

Per service two login roles: the migration role owns the database and its ``public`` schema (DDL), the
runtime role may connect and read and write the migration role's tables, nothing more. Its privileges are
default privileges of the migration role, so every table a later migration creates is covered, plus grants
on the tables already there (an older setup). No one else may create in ``public``.

Isolation: each database the bootstrap creates has every PUBLIC privilege revoked, so only the service's
roles (and superusers) can connect. Databases the bootstrap did not create (``postgres``, ``template1``)
are left alone unless asked (``lock``): on a shared server, revoking PUBLIC's CONNECT there would lock out
everyone else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from folio_ops.bootstrap.definitions import Definitions, ServiceAccess
from folio_ops.bootstrap.passwords import scram_verifier

DEFAULT_DATABASES = ("postgres", "template1")
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
SEQUENCE_PRIVILEGES = ("USAGE", "SELECT")


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class Step:
    """One object brought to its wanted state; every SQL expression has its values written in."""

    kind: str  # role, database, grant
    name: str
    # Bring an existing object to its wanted state; safe to repeat.
    statements: tuple[str, ...] = ()
    # True when nothing is left to do (the live apply asks; the script just runs ``statements``).
    in_place: str = "true"
    # For an object that may be missing: true when it exists, and what creates it.
    exists: str | None = None
    create: tuple[str, ...] = ()
    # CREATE DATABASE runs in no transaction block (the script sends it through a dblink loopback).
    create_alone: bool = False
    # Run inside this database, which must exist first (None: the admin connection's).
    database: str | None = None
    # A grant on this database, which must exist first.
    on_database: str | None = None
    # (role, password): in place only if the stored verifier is this password's (SCRAM is not SQL).
    password: tuple[str, str] | None = None


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


def _schema_grants_in_place(service: ServiceAccess) -> str:
    owner, runtime = literal(service.migration_role), literal(service.runtime_role)
    tables = ", ".join(map(literal, TABLE_PRIVILEGES))
    sequences = ", ".join(map(literal, SEQUENCE_PRIVILEGES))
    each_table = " AND ".join(
        f"has_table_privilege({runtime}, c.oid, {literal(p)})" for p in TABLE_PRIVILEGES
    )
    return f"""(
  (SELECT count(*) FROM pg_default_acl d, aclexplode(d.defaclacl) a
    WHERE d.defaclrole = {owner}::regrole AND d.defaclnamespace = 'public'::regnamespace
      AND a.grantee = {runtime}::regrole
      AND ((d.defaclobjtype = 'r' AND a.privilege_type IN ({tables}))
        OR (d.defaclobjtype = 'S' AND a.privilege_type IN ({sequences}))))
    = {len(TABLE_PRIVILEGES) + len(SEQUENCE_PRIVILEGES)}
  AND has_schema_privilege({runtime}, 'public', 'USAGE') AND has_schema_privilege({owner}, 'public', 'CREATE')
  AND NOT EXISTS (SELECT FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
    WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE')
  AND NOT EXISTS (SELECT FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
    AND c.relkind IN ('r', 'p', 'v') AND NOT ({each_table})))"""


def _role_exists(role: str) -> str:
    return f"EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(role)})"


def _database_exists(database: str) -> str:
    return f"EXISTS (SELECT FROM pg_database WHERE datname = {literal(database)})"


def _public_may(database: str, privilege: str | None = None) -> str:
    """True when PUBLIC holds ``privilege`` (None: any privilege) on ``database``."""
    which = f" AND a.privilege_type = {literal(privilege)}" if privilege else ""
    return (
        "EXISTS (SELECT FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a"
        f" WHERE d.datname = {literal(database)} AND a.grantee = 0{which})"
    )


def group_step(group: str) -> Step:
    return Step("role", group, exists=_role_exists(group), create=(f"CREATE ROLE {ident(group)} NOLOGIN",))


def login_role_step(role: str, password: str, group: str) -> Step:
    verifier = literal(scram_verifier(role, password))
    return Step(
        "role",
        role,
        exists=_role_exists(role),
        create=(f"CREATE ROLE {ident(role)} LOGIN PASSWORD {verifier} IN ROLE {ident(group)}",),
        statements=(
            f"ALTER ROLE {ident(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {verifier}",
            f"GRANT {ident(group)} TO {ident(role)}",
        ),
        in_place=(
            f"EXISTS (SELECT FROM pg_roles r WHERE r.rolname = {literal(role)} AND r.rolcanlogin"
            " AND NOT (r.rolsuper OR r.rolcreatedb OR r.rolcreaterole)"
            " AND EXISTS (SELECT FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
            f" WHERE m.member = r.oid AND g.rolname = {literal(group)}))"
        ),
        password=(role, password),
    )


def database_step(service: ServiceAccess) -> Step:
    db, owner = service.database, service.migration_role
    return Step(
        "database",
        db,
        exists=_database_exists(db),
        create=(f"CREATE DATABASE {ident(db)} OWNER {ident(owner)}",),
        create_alone=True,
        statements=(f"ALTER DATABASE {ident(db)} OWNER TO {ident(owner)}",),
        in_place=(
            f"EXISTS (SELECT FROM pg_database WHERE datname = {literal(db)}"
            f" AND pg_get_userbyid(datdba) = {literal(owner)})"
        ),
    )


def database_acl_step(service: ServiceAccess) -> Step:
    """PUBLIC's privileges on the service's database revoked; its two roles may connect."""
    db, owner, runtime = (
        literal(service.database),
        literal(service.migration_role),
        literal(service.runtime_role),
    )
    return Step(
        "grant",
        f"{service.database} (connect: own roles only)",
        statements=tuple(database_grants(service)),
        in_place=(
            f"(NOT {_public_may(service.database)}"
            f" AND has_database_privilege({owner}, {db}, 'CONNECT')"
            f" AND has_database_privilege({runtime}, {db}, 'CONNECT')"
            f" AND NOT has_database_privilege({runtime}, {db}, 'TEMPORARY'))"
        ),
        on_database=service.database,
    )


def lock_step(database: str) -> Step:
    """PUBLIC's CONNECT revoked on a database the bootstrap did not create; its other privileges stay."""
    return Step(
        "grant",
        f"{database} (no PUBLIC connect)",
        statements=(f"REVOKE CONNECT ON DATABASE {ident(database)} FROM PUBLIC",),
        in_place=f"NOT {_public_may(database, 'CONNECT')}",
    )


def schema_step(service: ServiceAccess) -> Step:
    return Step(
        "grant",
        f"{service.database} (runtime role: DML only)",
        statements=tuple(schema_grants(service)),
        in_place=_schema_grants_in_place(service),
        database=service.database,
        on_database=service.database,
    )


def steps(definitions: Definitions, *, lock: Iterable[str] = ()) -> list[Step]:
    """Everything, in an order that works from nothing: roles before the databases they own."""
    group = definitions.group_role
    out = [group_step(group)]
    for s in definitions.services:
        out.append(login_role_step(s.migration_role, s.migration_password, group))
        out.append(login_role_step(s.runtime_role, s.runtime_password, group))
        out.append(database_step(s))
        out.append(database_acl_step(s))
    out.extend(lock_step(database) for database in lock)
    out.extend(schema_step(s) for s in definitions.services)
    return out
