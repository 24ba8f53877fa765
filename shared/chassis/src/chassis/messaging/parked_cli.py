"""``folio-parked``: list or replay the messages parked for a consumer queue.

folio-parked list   --amqp-url URL --queue catalog.reserve_stock [--json]
folio-parked replay --amqp-url URL --queue catalog.reserve_stock [--id ID ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence

from aio_pika.exceptions import ChannelNotFoundEntity

from chassis.messaging.parked import ParkedMessage, list_parked, replay


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="folio-parked", description="List or replay parked messages.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("list", "list the parked messages"), ("replay", "send them back to the queue")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument(
            "--amqp-url",
            default=os.environ.get("FOLIO_AMQP_URL"),
            required="FOLIO_AMQP_URL" not in os.environ,
            help="broker URL with the service's vhost (default: $FOLIO_AMQP_URL)",
        )
        command.add_argument("--queue", required=True, help="the consumer queue, e.g. catalog.reserve_stock")
    commands.choices["list"].add_argument("--json", action="store_true", help="one JSON array")
    commands.choices["replay"].add_argument(
        "--id", action="append", default=[], dest="ids", help="replay only this message id (repeatable)"
    )
    return parser


def _table(parked: Sequence[ParkedMessage]) -> str:
    if not parked:
        return "no parked messages"
    lines = [f"{'id':36}  {'type':40}  {'attempts':>8}  {'parked_at':27}  error"]
    for p in parked:
        error = (p.error or "").splitlines()[0] if p.error else ""
        attempts = "" if p.attempts is None else str(p.attempts)
        lines.append(f"{p.id or '?':36}  {p.type or '?':40}  {attempts:>8}  {p.parked_at or '':27}  {error}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except ChannelNotFoundEntity as exc:
        print(f"folio-parked: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "list":
        parked = asyncio.run(list_parked(args.amqp_url, args.queue))
        print(json.dumps([p.as_dict() for p in parked], indent=2) if args.json else _table(parked))
        return 0
    replayed = asyncio.run(replay(args.amqp_url, args.queue, args.ids))
    missing = sorted(set(args.ids) - set(replayed))
    print(f"replayed {len(replayed)} message(s) to {args.queue}")
    for message_id in replayed:
        print(f"  {message_id}")
    if missing:
        print(f"not found in {args.queue}.dlq: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
