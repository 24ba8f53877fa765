"""``folio-bootstrap``: create, remove or export Folio's databases, roles and broker users.

Servers come from the environment: ``FOLIO_POSTGRES_ADMIN_URL`` (a superuser, default
postgresql://postgres@127.0.0.1:5432/postgres), ``FOLIO_RABBITMQ_MANAGEMENT_URL`` (an administrator, default
http://guest:guest@127.0.0.1:15672) and, for ``--print-env``, ``FOLIO_RABBITMQ_AMQP_URL`` (host and port of
the AMQP listener, default amqp://127.0.0.1:5672). Passwords: ``FOLIO_<SERVICE>_DB_PASSWORD`` and
``FOLIO_<SERVICE>_AMQP_PASSWORD``; production sets them, development uses ``<prefix>_<service>-dev``.

Isolation: a service role can connect only to its own database, because the bootstrap revokes PUBLIC's
privileges on every database it creates. ``postgres`` and ``template1`` stay open to PUBLIC on a shared
server (revoking there would lock out its other users); on a server of Folio's own pass
``--lock-default-databases`` (the compose init script does), or restrict with pg_hba.conf:
    host  sameuser  +folio_services  all  scram-sha-256
    host  all       +folio_services  all  reject
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote, urlsplit

import asyncpg
import httpx

from chassis.bootstrap import exporters, postgres, rabbitmq
from chassis.bootstrap.changes import Change, summary
from chassis.bootstrap.definitions import DEFAULT_PREFIX, DEFAULT_VHOST, Definitions, build

DEFAULT_POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_MANAGEMENT_URL = "http://guest:guest@127.0.0.1:15672"
DEFAULT_AMQP_URL = "amqp://127.0.0.1:5672"
COMMANDS = ("apply", "teardown", "export-rabbitmq-definitions", "export-postgres-init")


def postgres_admin_url(env: Mapping[str, str]) -> str:
    return env.get("FOLIO_POSTGRES_ADMIN_URL", DEFAULT_POSTGRES_ADMIN_URL)


def management_url(env: Mapping[str, str]) -> str:
    return env.get("FOLIO_RABBITMQ_MANAGEMENT_URL", DEFAULT_MANAGEMENT_URL)


def service_env(definitions: Definitions, env: Mapping[str, str]) -> dict[str, str]:
    """``<SERVICE>_DATABASE_URL`` and ``<SERVICE>_AMQP_URL`` for every service, as its settings read them."""
    pg = urlsplit(postgres_admin_url(env))
    amqp = urlsplit(env.get("FOLIO_RABBITMQ_AMQP_URL", DEFAULT_AMQP_URL))
    pg_host = f"{pg.hostname or '127.0.0.1'}:{pg.port or 5432}"
    amqp_host = f"{amqp.hostname or '127.0.0.1'}:{amqp.port or 5672}"
    out = {}
    for s in definitions.services:
        prefix = s.service.upper()
        out[f"{prefix}_DATABASE_URL"] = (
            f"postgresql://{quote(s.role, safe='')}:{quote(s.db_password, safe='')}@{pg_host}/{s.database}"
        )
        out[f"{prefix}_AMQP_URL"] = (
            f"amqp://{quote(s.amqp_user, safe='')}:{quote(s.amqp_password, safe='')}@{amqp_host}/"
            f"{quote(definitions.vhost, safe='')}"
        )
    return out


async def apply(
    definitions: Definitions,
    env: Mapping[str, str],
    *,
    dry_run: bool = False,
    lock: tuple[str, ...] = (),
) -> list[Change]:
    conn = await asyncpg.connect(postgres_admin_url(env))
    try:
        changes = await postgres.apply(conn, definitions, dry_run=dry_run, lock=lock)
    finally:
        await conn.close()
    url = management_url(env)
    async with rabbitmq.management_client(url) as api:
        admin_user, _ = rabbitmq.admin_credentials(url)
        changes += await rabbitmq.apply(api, definitions, admin_user=admin_user, dry_run=dry_run)
    return changes


async def teardown(
    definitions: Definitions, env: Mapping[str, str], *, dry_run: bool = False
) -> list[Change]:
    conn = await asyncpg.connect(postgres_admin_url(env))
    try:
        changes = await postgres.teardown(conn, definitions, dry_run=dry_run)
    finally:
        await conn.close()
    async with rabbitmq.management_client(management_url(env)) as api:
        changes += await rabbitmq.teardown(api, definitions, dry_run=dry_run)
    return changes


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="folio-bootstrap",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        epilog=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = root.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--prefix", default=DEFAULT_PREFIX, help="names are <prefix>_<service> (default: folio)"
    )
    common.add_argument("--vhost", default=DEFAULT_VHOST, help="RabbitMQ vhost (default: folio)")
    apply_cmd = commands.add_parser("apply", parents=[common], help="create what is missing (the default)")
    apply_cmd.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    apply_cmd.add_argument(
        "--print-env", action="store_true", help="only print each service's env vars (no server is touched)"
    )
    apply_cmd.add_argument(
        "--lock-default-databases",
        action="store_true",
        help="also revoke PUBLIC's CONNECT on postgres and template1 (only on a server of Folio's own)",
    )
    teardown_cmd = commands.add_parser("teardown", parents=[common], help="remove what apply created")
    teardown_cmd.add_argument("--dry-run", action="store_true")
    rabbit_cmd = commands.add_parser(
        "export-rabbitmq-definitions", parents=[common], help="write a RabbitMQ definitions JSON"
    )
    rabbit_cmd.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    rabbit_cmd.add_argument(
        "--admin-user", help="also define this administrator (no guest when loaded at boot)"
    )
    rabbit_cmd.add_argument(
        "--admin-password-env",
        default="FOLIO_RABBITMQ_ADMIN_PASSWORD",
        help="env var holding the administrator's password (default: FOLIO_RABBITMQ_ADMIN_PASSWORD)",
    )
    pg_cmd = commands.add_parser(
        "export-postgres-init", parents=[common], help="write a PostgreSQL init script"
    )
    pg_cmd.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    pg_cmd.add_argument(
        "--keep-default-databases-open",
        action="store_true",
        help="do not revoke PUBLIC's CONNECT on postgres and template1",
    )
    return root


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)


def run(argv: Sequence[str], env: Mapping[str, str]) -> int:
    argv = list(argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help")):
        argv.insert(0, "apply")
    args = parser().parse_args(argv)
    definitions = build(args.prefix, args.vhost, env)
    if args.command == "export-rabbitmq-definitions":
        admin = None
        if args.admin_user:
            password = env.get(args.admin_password_env)
            if not password:
                print(f"folio-bootstrap: set {args.admin_password_env} for --admin-user", file=sys.stderr)
                return 2
            admin = (args.admin_user, password)
        document = exporters.rabbitmq_definitions(definitions, admin=admin)
        _write(json.dumps(document, indent=2) + "\n", args.output)
        return 0
    if args.command == "export-postgres-init":
        script = exporters.postgres_init(
            definitions, lock_default_databases=not args.keep_default_databases_open
        )
        _write(script, args.output)
        return 0
    if args.command == "apply" and args.print_env:
        for key, value in service_env(definitions, env).items():
            print(f"{key}={shlex.quote(value)}")
        return 0
    try:
        if args.command == "teardown":
            changes = asyncio.run(teardown(definitions, env, dry_run=args.dry_run))
        else:
            lock = postgres.DEFAULT_DATABASES if args.lock_default_databases else ()
            changes = asyncio.run(apply(definitions, env, dry_run=args.dry_run, lock=lock))
    except (OSError, asyncpg.PostgresError, httpx.HTTPError, rabbitmq.ConflictError) as error:
        print(f"folio-bootstrap: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(summary(changes, dry_run=args.dry_run))
    return 0


def main() -> None:
    sys.exit(run(sys.argv[1:], os.environ))
