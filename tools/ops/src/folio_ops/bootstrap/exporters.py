"""The bootstrap's one description of each server: a RabbitMQ definitions document and a PostgreSQL init
script. Containers load them as files; the live apply (``rabbitmq``, ``postgres``) applies the same.

Both are reproducible (no random salts, stable order), so a committed copy can be checked for drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from folio_ops.bootstrap.definitions import Definitions, Exchange, Permissions, Queue
from folio_ops.bootstrap.passwords import RABBIT_HASHING, rabbit_password_hash
from folio_ops.bootstrap.postgres_plan import DEFAULT_DATABASES, Step, ident, literal, steps


def exchange_body(exchange: Exchange) -> dict[str, Any]:
    return {"type": exchange.type, "durable": True, "auto_delete": False, "internal": False, "arguments": {}}


def queue_body(queue: Queue) -> dict[str, Any]:
    return {"durable": True, "auto_delete": False, "arguments": dict(queue.arguments)}


def full_permissions(user: str, vhost: str) -> dict[str, str]:
    """An administrator's: it declares the vhost's exchanges and queues."""
    return {"user": user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}


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
        permissions.insert(0, full_permissions(name, vhost))
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


def _through_dblink(database: str | None, statements: Sequence[str], *, unless: str | None = None) -> str:
    """A DO block running ``statements`` in ``database`` (None: this one) through a dblink loopback.

    ``unless``: only when that SQL condition is false (``CREATE DATABASE`` cannot run in a DO block; a
    script cannot switch databases either).
    """
    target = literal(database) if database else "current_database()"
    command = f"      {literal('; '.join(statements))});\n"
    run = "EXECUTE format('SELECT %I.dblink_exec(%L, %L)', dblink_schema, loopback,\n" + command
    body = f"  IF NOT {unless} THEN\n    {run}  END IF;\n" if unless else f"  {run}"
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


def _statements(statements: Sequence[str]) -> str:
    return "".join(f"{statement};\n" for statement in statements)


def _render(step: Step) -> str:
    """``step`` as SQL a superuser can run again and again (the live apply checks first; a script cannot)."""
    if step.database is not None:
        return _through_dblink(step.database, step.statements)
    if step.exists is None:
        return _statements(step.statements)
    if step.create_alone:
        return _through_dblink(None, step.create, unless=step.exists) + _statements(step.statements)
    otherwise = f"  ELSE\n    {'; '.join(step.statements)};\n" if step.statements else ""
    return _do(f"  IF NOT {step.exists} THEN\n    {'; '.join(step.create)};\n{otherwise}  END IF;")


def postgres_init(definitions: Definitions, *, lock_default_databases: bool = True) -> str:
    """``postgres_plan.steps`` as an idempotent SQL script (plain SQL, no psql meta-commands) for a superuser.

    A missing database is created, and each database's schema grants are run, through a dblink loopback
    connection; dblink is installed in a scratch schema for the run when absent, and removed after.
    ``lock_default_databases`` revokes PUBLIC's CONNECT on ``postgres`` and ``template1``: right on a
    server dedicated to Folio (compose, a per-service cluster), wrong on a shared one.
    """
    scratch = ident(f"{definitions.prefix}_bootstrap")
    lock = DEFAULT_DATABASES if lock_default_databases else ()
    out = [
        f"-- Folio databases and roles; generated by `folio-bootstrap export-postgres-init"
        f" --prefix {definitions.prefix}`.",
        "-- Idempotent: safe to run again. Passwords are stored as SCRAM-SHA-256 verifiers.",
        "-- Per service: <prefix>_<service> owns the database (migrations), <prefix>_<service>_runtime reads",
        "-- and writes its tables (api, worker).",
        "",
        f"CREATE SCHEMA IF NOT EXISTS {scratch};\n",
        _do(
            "  IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'dblink') THEN\n"
            f"    CREATE EXTENSION dblink SCHEMA {scratch};\n"
            "  END IF;"
        ),
    ]
    out.extend(_render(step) for step in steps(definitions, lock=lock))
    out.append(f"DROP SCHEMA {scratch} CASCADE;\n")
    return "\n".join(out)
