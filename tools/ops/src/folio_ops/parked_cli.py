"""``folio-parked``: list, replay or discard the messages parked for a service's consumer queues.

folio-parked --service catalog list                           every parked queue, with counts
folio-parked --service catalog list --queue reserve_stock [--json]
folio-parked --service catalog replay  --queue reserve_stock [--id ID ...] --reason WHY [--by WHO]
folio-parked --service catalog discard --queue reserve_stock  --id ID ...  --reason WHY [--by WHO]

``--service`` reads the broker URL (and the management URL) from that service's own settings, the same
environment variables and ``.env`` the service reads (``CATALOG_AMQP_URL``, ``FOLIO_AMQP_URL``, ...);
``--amqp-url`` and ``--management-url`` override them. Without a queue, ``list`` shows every parked queue
of the vhost (from the management API) together with the service's own. Every replay and discard is
written as one JSON line to stderr with who did it (``--by``, the OS user by default) and why.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from aio_pika.exceptions import ChannelNotFoundEntity

from chassis.definition import ServiceDefinition
from chassis.messaging.parked import (
    ParkedMessage,
    ParkingQueue,
    count_parked,
    discard,
    list_parked,
    parking_queues_of_vhost,
    replay,
)
from chassis.messaging.topology import queue_name
from chassis.observability.logging import json_formatter

audit = logging.getLogger("folio.parked.audit")


@dataclass(frozen=True, slots=True)
class Target:
    """Where the parked messages are: the broker (and management API), and whose queues they are."""

    amqp_url: str
    management_url: str
    service: ServiceDefinition[Any, Any] | None

    def queue(self, name: str) -> str:
        """``reserve_stock`` means the service's own ``catalog.reserve_stock``."""
        if "." in name or self.service is None:
            return name
        return queue_name(self.service.name, name)

    def own_queues(self) -> list[str]:
        if self.service is None:
            return []
        return [queue_name(self.service.name, s.handler) for s in self.service.subscriptions()]


def load_service(name: str) -> ServiceDefinition[Any, Any]:
    """The service's own definition (``<name>.entrypoints.definition``), which knows its settings."""
    module = importlib.import_module(f"{name}.entrypoints.definition")
    found: ServiceDefinition[Any, Any] = module.definition()
    return found


def _management_default(amqp_url: str) -> str:
    return f"http://{urlsplit(amqp_url).hostname or '127.0.0.1'}:15672"


def target(args: argparse.Namespace) -> Target:
    service = load_service(args.service) if args.service else None
    settings = service.settings_factory() if service is not None else None
    amqp_url = args.amqp_url or (settings.amqp_url if settings else None) or os.environ.get("FOLIO_AMQP_URL")
    if not amqp_url:
        raise SystemExit("folio-parked: give --service NAME (or --amqp-url, or set FOLIO_AMQP_URL)")
    management_url = (
        args.management_url
        or (settings.rabbitmq_management_url if settings else None)
        or os.environ.get("FOLIO_RABBITMQ_MANAGEMENT_URL")
        or _management_default(amqp_url)
    )
    return Target(amqp_url, management_url, service)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="folio-parked", description="List, replay or discard parked messages."
    )
    parser.add_argument("--service", help="the service whose settings name the broker, e.g. catalog")
    parser.add_argument("--amqp-url", help="broker URL with the vhost (default: the service's setting)")
    parser.add_argument("--management-url", help="RabbitMQ management API (default: the service's setting)")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the parked queues with counts, or one queue's messages")
    listing.add_argument("--queue", help="a consumer queue, e.g. catalog.reserve_stock (or reserve_stock)")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    for name, help_text in (("replay", "send them back to the queue"), ("discard", "remove them for good")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--queue", required=True, help="the consumer queue, e.g. catalog.reserve_stock")
        command.add_argument(
            "--id",
            action="append",
            default=[],
            dest="ids",
            required=name == "discard",
            help="only this message id (repeatable)" + ("" if name == "discard" else "; default: all"),
        )
        command.add_argument("--reason", required=True, help="why, for the audit log")
        command.add_argument("--by", default=_os_user(), help="who (default: the OS user)")
    return parser


def _os_user() -> str:
    try:
        return getpass.getuser()
    except OSError:
        return "unknown"


def _table(parked: Sequence[ParkedMessage]) -> str:
    if not parked:
        return "no parked messages"
    lines = [f"{'id':36}  {'type':40}  {'attempts':>8}  {'parked_at':27}  error"]
    for p in parked:
        error = (p.error or "").splitlines()[0] if p.error else ""
        attempts = "" if p.attempts is None else str(p.attempts)
        lines.append(f"{p.id or '?':36}  {p.type or '?':40}  {attempts:>8}  {p.parked_at or '':27}  {error}")
    return "\n".join(lines)


def _queues_table(queues: Sequence[ParkingQueue]) -> str:
    if not queues:
        return "no parking queues"
    width = max(len(q.queue) for q in queues) + len(".dlq")
    lines = [f"{'parking queue':{width}}  {'parked':>6}"]
    lines.extend(f"{q.queue + '.dlq':{width}}  {q.messages:>6}" for q in queues)
    return "\n".join(lines)


def _configure_audit() -> None:
    # Bound to the stderr of this run (a caller may have replaced it since the last one).
    for existing in list(audit.handlers):
        audit.removeHandler(existing)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    audit.addHandler(handler)
    audit.setLevel(logging.INFO)
    audit.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args, target(args))
    except ChannelNotFoundEntity as exc:
        print(f"folio-parked: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, where: Target) -> int:
    if args.command == "list":
        return _list(args, where)
    _configure_audit()
    queue = where.queue(args.queue)
    action = replay if args.command == "replay" else discard
    done = asyncio.run(action(where.amqp_url, queue, args.ids))
    verb = "replayed" if args.command == "replay" else "discarded"
    audit.info(
        "%s %d parked message(s) of %s",
        verb,
        len(done),
        queue,
        extra={"action": args.command, "queue": queue, "ids": done, "by": args.by, "reason": args.reason},
    )
    print(f"{verb} {len(done)} message(s) {'to' if verb == 'replayed' else 'from'} {queue}")
    for message_id in done:
        print(f"  {message_id}")
    missing = sorted(set(args.ids) - set(done))
    if missing:
        print(f"not found in {queue}.dlq: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


def _list(args: argparse.Namespace, where: Target) -> int:
    if args.queue:
        parked = asyncio.run(list_parked(where.amqp_url, where.queue(args.queue)))
        print(json.dumps([p.as_dict() for p in parked], indent=2) if args.json else _table(parked))
        return 0
    queues = where.own_queues()
    try:
        queues += asyncio.run(parking_queues_of_vhost(where.management_url, where.amqp_url))
    except httpx.HTTPError as exc:
        # A service's broker user has no management access: its own queues are still listed.
        print(f"folio-parked: the management API did not list the vhost ({exc})", file=sys.stderr)
        if not queues:
            return 2
    counts = asyncio.run(count_parked(where.amqp_url, queues))
    if args.json:
        print(json.dumps([{"queue": q.queue, "parked": q.messages} for q in counts], indent=2))
    else:
        print(_queues_table(counts))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
