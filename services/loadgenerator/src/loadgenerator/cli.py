"""``folio-loadgen``: load any running Folio through its public APIs.

    folio-loadgen run --catalog-url http://127.0.0.1:8001 --ordering-url http://127.0.0.1:8002 \\
        --rates 5,10,20,40 --seconds 20 [--json out.json] [--chart out.png]
    folio-loadgen ceiling [--rates 100,200,400]   # the generator alone, against a trivial local server
    folio-loadgen chart results.json out.png

The signing key comes from ``FOLIO_AUTH_LOCAL_SECRET`` or ``--secret-file``. ``make bench`` wraps this with
the ceilings and the outbox figures (bench/system_bench.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from loadgenerator.books import create_books
from loadgenerator.ceiling import generator_ceiling
from loadgenerator.chart import draw
from loadgenerator.client import http_client
from loadgenerator.host import describe_host
from loadgenerator.report import BenchReport, StepResult, generator_ceiling_lines, render_table
from loadgenerator.schedule import RateStep, parse_rates, rising_steps
from loadgenerator.step import StepRun, run_step
from loadgenerator.target import Target


async def run_load(
    target: Target,
    steps: list[RateStep],
    *,
    books: int,
    stock: int,
    seed: int,
    settle_timeout: float,
    retry_for: float,
) -> list[StepRun]:
    rng = random.Random(seed)
    run_id = f"{int(time.time())}-{rng.randrange(16**6):06x}"
    async with http_client() as client:
        book_ids = await create_books(client, target, count=books, stock=stock, rng=rng)
        runs = []
        for step in steps:
            print(f"step: {step.rate:g} orders/s for {step.seconds:g}s ...", file=sys.stderr)
            runs.append(
                await run_step(
                    client,
                    target,
                    step,
                    book_ids,
                    customer=f"bench-{run_id}-{step.rate:g}",
                    rng=rng,
                    settle_timeout=settle_timeout,
                    retry_for=retry_for,
                )
            )
        return runs


# The goal is 200 orders/s from one core; the rates around it show the margin.
CEILING_RATES = "100,200,400"


def load_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared with `make bench`."""
    parser.add_argument(
        "--rates", type=parse_rates, default=parse_rates("5,10,20,40"), help="orders/s, rising"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each rate is held")
    parser.add_argument("--books", type=int, default=50, help="books created for the run")
    parser.add_argument("--stock", type=int, default=1_000_000, help="copies of each book")
    parser.add_argument("--settle-timeout", type=float, default=120.0, help="wait for a step's orders")
    parser.add_argument(
        "--retry-for", type=float, default=30.0, help="retry a shed order (429/503) this long, as itself"
    )
    parser.add_argument("--seed", type=int, default=1)


def utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _secret(args: argparse.Namespace) -> str:
    if args.secret_file:
        return str(Path(args.secret_file).read_text().strip())
    secret = os.environ.get("FOLIO_AUTH_LOCAL_SECRET")
    if not secret:
        raise SystemExit("set FOLIO_AUTH_LOCAL_SECRET or pass --secret-file")
    return secret


def _run(args: argparse.Namespace) -> None:
    target = Target(args.catalog_url, args.ordering_url, _secret(args))
    started = utc_stamp()
    runs = asyncio.run(
        run_load(
            target,
            rising_steps(args.rates, args.seconds),
            books=args.books,
            stock=args.stock,
            seed=args.seed,
            settle_timeout=args.settle_timeout,
            retry_for=args.retry_for,
        )
    )
    steps: list[StepResult] = [run.result for run in runs]
    report = BenchReport(started_at=started, target=target.describe(), host=describe_host(), steps=steps)
    print(render_table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), indent=2))
    if args.chart:
        draw(report, Path(args.chart))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="folio-loadgen", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="place orders at rising rates and print the figures")
    run.add_argument("--catalog-url", default="http://127.0.0.1:8001")
    run.add_argument("--ordering-url", default="http://127.0.0.1:8002")
    run.add_argument("--secret-file", help="file holding the services' local signing key")
    run.add_argument("--json", help="write the figures here")
    run.add_argument("--chart", help="draw them to this PNG")
    load_arguments(run)
    ceiling = commands.add_parser("ceiling", help="the generator alone against a trivial local server")
    ceiling.add_argument("--rates", type=parse_rates, default=parse_rates(CEILING_RATES))
    ceiling.add_argument("--seconds", type=float, default=5.0)
    chart = commands.add_parser("chart", help="draw a results JSON file to a PNG")
    chart.add_argument("results")
    chart.add_argument("png")
    args = parser.parse_args(argv)
    if args.command == "ceiling":
        print("\n".join(generator_ceiling_lines(asyncio.run(generator_ceiling(args.rates, args.seconds)))))
    elif args.command == "chart":
        report = BenchReport.from_json(json.loads(Path(args.results).read_text()))
        draw(report, Path(args.png))
        print(render_table(report))
    else:
        _run(args)
