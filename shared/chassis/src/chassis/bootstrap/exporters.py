"""The same definitions as files for containers: a RabbitMQ definitions JSON and a PostgreSQL init script.

Both are reproducible (no random salts, stable order), so a committed copy can be checked for drift.
"""

from __future__ import annotations

from typing import Any

from chassis.bootstrap.definitions import Definitions, Permissions
from chassis.bootstrap.passwords import RABBIT_HASHING, rabbit_password_hash, scram_verifier
from chassis.bootstrap.postgres import DEFAULT_DATABASES, database_grants, ident, literal, schema_grants
from chassis.bootstrap.rabbitmq import exchange_body, queue_body


def rabbitmq_definitions(definitions: Definitions, *, admin: tuple[str, str] | None = None) -> dict[str, Any]:
    """Definitions for ``load_definitions`` at broker boot or ``POST /api/definitions``.

    A broker that loads definitions at boot creates no default ``guest`` user; ``admin`` (user, password)
    adds an administrator with full rights on the vhost.
    """
    vhost = definitions.vhost
    users = [
        {
            "name": s.amqp_user,
            "password_hash": rabbit_password_hash(s.amqp_user, s.amqp_password),
            "hashing_algorithm": RABBIT_HASHING,
            "tags": [],
        }
        for s in definitions.services
    ]
    permissions = [
        {"user": s.amqp_user, "vhost": vhost, **vars_of(s.permissions)} for s in definitions.services
    ]
    if admin is not None:
        name, password = admin
        users.insert(
            0,
            {
                "name": name,
                "password_hash": rabbit_password_hash(name, password),
                "hashing_algorithm": RABBIT_HASHING,
                "tags": ["administrator"],
            },
        )
        permissions.insert(0, {"user": name, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"})
    return {
        "users": users,
        "vhosts": [{"name": vhost}],
        "permissions": permissions,
        "topic_permissions": [
            {"user": s.amqp_user, "vhost": vhost, "exchange": p.exchange, "write": p.write, "read": p.read}
            for s in definitions.services
            for p in s.topic_permissions
        ],
        "parameters": [],
        "global_parameters": [],
        "policies": [],
        "queues": [{"name": q.name, "vhost": vhost, **queue_body(q)} for q in definitions.queues],
        "exchanges": [{"name": e.name, "vhost": vhost, **exchange_body(e)} for e in definitions.exchanges],
        "bindings": [
            {
                "source": b.source,
                "vhost": vhost,
                "destination": b.queue,
                "destination_type": "queue",
                "routing_key": b.routing_key,
                "arguments": {},
            }
            for b in definitions.bindings
        ],
    }


def vars_of(permissions: Permissions) -> dict[str, str]:
    return {"configure": permissions.configure, "write": permissions.write, "read": permissions.read}


def _do(body: str) -> str:
    return f"DO $folio$\nBEGIN\n{body}\nEND\n$folio$;\n"


def _login_role(role: str, password: str, group: str) -> str:
    verifier = literal(scram_verifier(role, password))
    create_or_alter = _do(
        f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(role)}) THEN\n"
        f"    CREATE ROLE {ident(role)} LOGIN PASSWORD {verifier};\n"
        "  ELSE\n"
        f"    ALTER ROLE {ident(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {verifier};\n"
        "  END IF;"
    )
    return f"{create_or_alter}\nGRANT {ident(group)} TO {ident(role)};\n"


def _through_dblink(database: str | None, statements: list[str], *, unless_exists: str | None = None) -> str:
    """A DO block running ``statements`` in ``database`` (None: this one) through a dblink loopback.

    ``unless_exists``: only when no database of that name exists (``CREATE DATABASE`` cannot run in a DO
    block; a script cannot switch databases either).
    """
    target = literal(database) if database else "current_database()"
    command = f"      {literal('; '.join(statements))});\n"
    run = "EXECUTE format('SELECT %I.dblink_exec(%L, %L)', dblink_schema, loopback,\n" + command
    if unless_exists:
        body = (
            f"  IF NOT EXISTS (SELECT FROM pg_database WHERE datname = {literal(unless_exists)}) THEN\n"
            f"    {run}  END IF;\n"
        )
    else:
        body = f"  {run}"
    return (
        "DO $folio$\n"
        "DECLARE\n"
        "  dblink_schema name := (SELECT n.nspname FROM pg_extension e"
        " JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'dblink');\n"
        "  sockets text := split_part(current_setting('unix_socket_directories'), ',', 1);\n"
        f"  loopback text := format('dbname=''%s'' user=''%s'' port=%s', {target}, current_user,"
        " current_setting('port'))\n"
        "    || CASE WHEN sockets <> '' THEN format(' host=''%s''', trim(sockets)) ELSE '' END;\n"
        "BEGIN\n"
        f"{body}"
        "END\n"
        "$folio$;\n"
    )


def postgres_init(definitions: Definitions, *, lock_default_databases: bool = True) -> str:
    """An idempotent SQL script (plain SQL, no psql meta-commands) run by a superuser.

    A missing database is created, and each database's schema grants are run, through a dblink loopback
    connection; dblink is installed in a scratch schema for the run when absent, and removed after.
    ``lock_default_databases`` revokes PUBLIC's CONNECT on ``postgres`` and ``template1``: right on a
    server dedicated to Folio (compose, a per-service cluster), wrong on a shared one.
    """
    scratch = ident(f"{definitions.prefix}_bootstrap")
    group = definitions.group_role
    out = [
        f"-- Folio databases and roles; generated by `folio-bootstrap export-postgres-init"
        f" --prefix {definitions.prefix}`.",
        "-- Idempotent: safe to run again. Passwords are stored as SCRAM-SHA-256 verifiers.",
        "-- Per service: <prefix>_<service> owns the database (migrations), <prefix>_<service>_runtime reads",
        "-- and writes its tables (api, worker).",
        "",
        _do(
            f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(group)}) THEN\n"
            f"    CREATE ROLE {ident(group)} NOLOGIN;\n"
            "  END IF;"
        ),
    ]
    for s in definitions.services:
        out.append(_login_role(s.migration_role, s.migration_password, group))
        out.append(_login_role(s.runtime_role, s.runtime_password, group))
    out.append(f"CREATE SCHEMA IF NOT EXISTS {scratch};\n")
    out.append(
        _do(
            "  IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'dblink') THEN\n"
            f"    CREATE EXTENSION dblink SCHEMA {scratch};\n"
            "  END IF;"
        )
    )
    for s in definitions.services:
        create = f"CREATE DATABASE {ident(s.database)} OWNER {ident(s.migration_role)}"
        out.append(_through_dblink(None, [create], unless_exists=s.database))
        out.append(f"ALTER DATABASE {ident(s.database)} OWNER TO {ident(s.migration_role)};")
        out.append("".join(f"{statement};\n" for statement in database_grants(s)))
        out.append(_through_dblink(s.database, schema_grants(s)))
    out.append(f"DROP SCHEMA {scratch} CASCADE;\n")
    if lock_default_databases:
        out.append("-- Service roles connect to their own database only (superusers are not affected).")
        out.extend(f"REVOKE CONNECT ON DATABASE {ident(d)} FROM PUBLIC;" for d in DEFAULT_DATABASES)
        out.append("")
    return "\n".join(out)
