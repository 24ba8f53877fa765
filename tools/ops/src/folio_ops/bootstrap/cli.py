"""``folio-bootstrap``: create, remove or export Folio's databases, roles, broker users and topology.

Servers come from the environment: ``FOLIO_POSTGRES_ADMIN_URL`` (a superuser, default
postgresql://postgres@127.0.0.1:5432/postgres), ``FOLIO_RABBITMQ_MANAGEMENT_URL`` (an administrator, default
http://guest:guest@127.0.0.1:15672) and, for ``--print-env``, ``FOLIO_RABBITMQ_AMQP_URL`` (host and port of
the AMQP listener, default amqp://127.0.0.1:5672). Passwords: ``FOLIO_<SERVICE>_DB_PASSWORD`` (the runtime
role of api and worker), ``FOLIO_<SERVICE>_MIGRATION_DB_PASSWORD`` (the migration role, owner of the
database) and ``FOLIO_<SERVICE>_AMQP_PASSWORD``. Without them the bootstrap refuses, unless told that this
is a development setup (``--dev`` or ``FOLIO_BOOTSTRAP_DEV=1``): then they are ``<role>-dev``.
The retry queues take their delays from ``<SERVICE>_RETRY_DELAYS`` or ``FOLIO_RETRY_DELAYS``, as the
workers do: run the bootstrap with the workers' settings.

Isolation: a service's roles can connect only to its own database, because the bootstrap revokes PUBLIC's
privileges on every database it creates. ``postgres`` and ``template1`` stay open to PUBLIC on a shared
server (revoking there would lock out its other users); on a server of Folio's own pass
``--lock-default-databases`` (the compose init script does), or restrict with pg_hba.conf:
    host  sameuser  +folio_services  all  scram-sha-256
    host  all       +folio_services  all  reject
(``sameuser`` does not cover the runtime roles, ``<prefix>_<service>_runtime``: list their databases.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import httpx

from folio_ops.bootstrap import exporters, postgres, postgres_plan, rabbitmq
from folio_ops.bootstrap.changes import Change, summary
from folio_ops.bootstrap.definitions import (
    DEFAULT_PREFIX,
    DEFAULT_VHOST,
    Definitions,
    MissingPasswords,
    build,
)

DEFAULT_POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_MANAGEMENT_URL = "http://guest:guest@127.0.0.1:15672"
DEFAULT_AMQP_URL = "amqp://127.0.0.1:5672"
COMMANDS = ("apply", "teardown", "export-rabbitmq-definitions", "export-postgres-init")


def postgres_admin_url(env: Mapping[str, str]) -> str:
    return env.get("FOLIO_POSTGRES_ADMIN_URL", DEFAULT_POSTGRES_ADMIN_URL)


def management_url(env: Mapping[str, str]) -> str:
    return env.get("FOLIO_RABBITMQ_MANAGEMENT_URL", DEFAULT_MANAGEMENT_URL)


def service_env(definitions: Definitions, env: Mapping[str, str]) -> dict[str, str]:
    """``<SERVICE>_DATABASE_URL`` (runtime role), ``<SERVICE>_MIGRATION_DATABASE_URL`` (migration role) and
    ``<SERVICE>_AMQP_URL`` for every service, as its settings read them."""
    pg = urlsplit(postgres_admin_url(env))
    amqp = urlsplit(env.get("FOLIO_RABBITMQ_AMQP_URL", DEFAULT_AMQP_URL))
    pg_host = f"{pg.hostname or '127.0.0.1'}:{pg.port or 5432}"
    amqp_host = f"{amqp.hostname or '127.0.0.1'}:{amqp.port or 5672}"
    out = {}
    for s in definitions.services:
        prefix = s.service.upper()
        for key, role, password in (
            ("DATABASE_URL", s.runtime_role, s.runtime_password),
            ("MIGRATION_DATABASE_URL", s.migration_role, s.migration_password),
        ):
            out[f"{prefix}_{key}"] = (
                f"postgresql://{quote(role, safe='')}:{quote(password, safe='')}@{pg_host}/{s.database}"
            )
        out[f"{prefix}_AMQP_URL"] = (
            f"amqp://{quote(s.amqp_user, safe='')}:{quote(s.amqp_password, safe='')}@{amqp_host}/"
            f"{quote(definitions.vhost, safe='')}"
        )
    return out


class Unreachable(RuntimeError):
    """A server did not answer; the message names the URL tried and what to check."""


def redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@contextlib.asynccontextmanager
async def _reaching_postgres(url: str) -> AsyncIterator[None]:
    try:
        yield
    except (OSError, asyncpg.PostgresConnectionError, asyncpg.InvalidAuthorizationSpecificationError) as e:
        raise Unreachable(
            f"cannot reach PostgreSQL at {redacted(url)} ({type(e).__name__}: {e}). Check that it runs"
            " (scripts/local_servers.sh starts a local one) and that FOLIO_POSTGRES_ADMIN_URL names a"
            " superuser it accepts."
        ) from e


@contextlib.asynccontextmanager
async def _reaching_management(url: str) -> AsyncIterator[None]:
    try:
        yield
    except httpx.TransportError as e:
        raise Unreachable(
            f"cannot reach the RabbitMQ management API at {redacted(url)} ({type(e).__name__}: {e}). Check"
            " that RabbitMQ runs and its management plugin is on (`rabbitmq-plugins enable"
            " rabbitmq_management`; `make infra` does both for a local broker), or set"
            " FOLIO_RABBITMQ_MANAGEMENT_URL."
        ) from e
    except httpx.HTTPStatusError as e:
        if e.response.status_code not in (401, 403):
            raise
        raise Unreachable(
            f"the RabbitMQ management API at {redacted(url)} refused {e.request.method} {e.request.url.path}"
            f" ({e.response.status_code}): FOLIO_RABBITMQ_MANAGEMENT_URL must name an administrator"
        ) from e


async def apply(
    definitions: Definitions,
    env: Mapping[str, str],
    *,
    dry_run: bool = False,
    lock: tuple[str, ...] = (),
) -> list[Change]:
    pg_url = postgres_admin_url(env)
    async with _reaching_postgres(pg_url):
        changes = await postgres.apply(pg_url, definitions, dry_run=dry_run, lock=lock)
    url = management_url(env)
    async with _reaching_management(url), rabbitmq.management_client(url) as api:
        admin_user, _ = rabbitmq.admin_credentials(url)
        changes += await rabbitmq.apply(api, definitions, admin_user=admin_user, dry_run=dry_run)
    return changes


async def teardown(
    definitions: Definitions, env: Mapping[str, str], *, dry_run: bool = False
) -> list[Change]:
    pg_url = postgres_admin_url(env)
    async with _reaching_postgres(pg_url):
        changes = await postgres.teardown(pg_url, definitions, dry_run=dry_run)
    url = management_url(env)
    async with _reaching_management(url), rabbitmq.management_client(url) as api:
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
    common.add_argument(
        "--dev",
        action="store_true",
        help="a development setup: passwords not given are <role>-dev (also FOLIO_BOOTSTRAP_DEV=1)",
    )
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
    # Teardown needs no password; everything else refuses to invent one outside development.
    dev = args.dev or env.get("FOLIO_BOOTSTRAP_DEV", "") in ("1", "true", "yes") or args.command == "teardown"
    try:
        definitions = build(args.prefix, args.vhost, env, dev=dev)
    except MissingPasswords as missing:
        print(
            f"folio-bootstrap: no passwords given; set {', '.join(missing.names)},"
            " or pass --dev (FOLIO_BOOTSTRAP_DEV=1) for a development setup with <role>-dev passwords",
            file=sys.stderr,
        )
        return 2
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
            lock = postgres_plan.DEFAULT_DATABASES if args.lock_default_databases else ()
            changes = asyncio.run(apply(definitions, env, dry_run=args.dry_run, lock=lock))
    except Unreachable as error:
        print(f"folio-bootstrap: {error}", file=sys.stderr)
        return 1
    except (OSError, asyncpg.PostgresError, httpx.HTTPError, rabbitmq.ConflictError) as error:
        print(f"folio-bootstrap: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(summary(changes, dry_run=args.dry_run))
    return 0


def main() -> None:
    sys.exit(run(sys.argv[1:], os.environ))
