"""`make bench`: the whole system under rising order rates, with the ceilings that bound it (not a test).

    .venv/bin/python bench/system_bench.py [--rates 5,10,20,40] [--seconds 20] [--profile] [--own-stack]

Against the system `make up` runs (found by ``.run/honcho.pid``); when none runs, it starts one on its own
databases, vhost and ports (prefix ``folio_bench``), and removes it afterwards. In one run it measures:

1. the ceilings: the broker's raw confirmed-publish rate and PostgreSQL's commit rate (``ceilings.py``),
   and the outbox relay draining a backlog (beside ``--relay-history`` retained published rows) as a
   percentage of that raw rate, against issue #12's 80% (``relay_throughput.py``);
   With ``--generator-ceiling``, first the load generator alone against a trivial local HTTP server;
2. per rate step (the load generator, ``services/loadgenerator``): orders offered (and whether the
   generator kept its schedule, with its own CPU), shed (429/503, retried as the same order) and confirmed
   per second, placed→confirmed latency; from the services' own databases the outbox commit→publish
   latency, outbox messages and transactions per confirmed order, and the step's outcomes (one query on
   ordering's ``order_summaries``); from /proc the CPU each process used, split into Folio's processes
   against PostgreSQL's backends and the broker per confirmed order; divided by each process's own
   counters on /metrics, CPU µs per HTTP request or handled message; and SQL per handled message
   (``work_counters``: pg_stat_statements where loaded, else pg_stat_database's transactions and rows),
   and each worker's own count of its SQL round trips per handled message;
3. with ``--profile``, py-spy samples the service processes during the last (heaviest) step.

Figures go to ``bench/results/<timestamp>.json`` and ``.png`` (git-ignored) and to stdout.

With a broker of its own (``FOLIO_RABBITMQ_MANAGEMENT_URL``, ``FOLIO_RABBITMQ_AMQP_URL`` and
``FOLIO_TEST_AMQP_URL``/``FOLIO_TEST_RABBITMQ_MANAGEMENT_URL`` for the raw ceiling), ``--broker-pids``
counts that broker's CPU alone instead of every ``beam.smp`` on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import observe
import profiling
import uvloop
import work_counters
from ceilings import postgres_commit_rate
from order_outcomes import DatabaseOutcomes
from relay_throughput import RelayCeiling, ceiling_lines, relay_against_raw

from chassis import defaults
from devstack.config import SERVICES, StackConfig, bootstrap_env
from devstack.stack import Stack, alive
from loadgenerator.books import create_books
from loadgenerator.ceiling import generator_ceiling
from loadgenerator.chart import draw
from loadgenerator.cli import CEILING_RATES, load_arguments, utc_stamp
from loadgenerator.client import http_client
from loadgenerator.host import describe_host
from loadgenerator.report import BenchReport, Ceilings, StepResult, render_table
from loadgenerator.schedule import parse_rates, rising_steps
from loadgenerator.step import run_step
from loadgenerator.target import Target
from testkit.servers import test_servers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# A stack of its own, away from `make up`'s names and ports.
OWN_STACK = StackConfig(
    prefix="folio_bench",
    vhost="folio_bench",
    run_dir=ROOT / ".run" / "bench",
    api_port=28001,
    worker_port=29001,
    smtp_port=21025,
    mail_http_port=28025,
)


@dataclass
class System:
    config: StackConfig
    database_urls: dict[str, str]
    processes: dict[str, int]  # "ordering-api" -> pid
    description: str
    amqp_url: str  # the ordering service's, to watch the broker with
    # The broker's processes, for its CPU; empty: every beam.smp on the machine.
    broker_pids: list[int] = field(default_factory=list)

    def target(self) -> Target:
        return Target(self.config.api_url("catalog"), self.config.api_url("ordering"), self.config.secret())

    def metrics_urls(self) -> dict[str, str]:
        """``ordering-api`` -> its /metrics, for the processes of one replica with a role of their own."""
        urls = {}
        for name in self.processes:
            service, role = name.rsplit("-", 1)
            if service in SERVICES and role in ("api", "worker"):
                base = self.config.api_url(service) if role == "api" else self.config.worker_url(service)
                urls[name] = f"{base}/metrics"
        return urls


def _running(config: StackConfig) -> int | None:
    pid_file = config.run_dir / "honcho.pid"
    if pid_file.exists() and alive(pid := int(pid_file.read_text())):
        return pid
    return None


def _urls(config: StackConfig) -> tuple[dict[str, str], str]:
    env = bootstrap_env(config)
    return {service: env[f"{service.upper()}_DATABASE_URL"] for service in SERVICES}, env["ORDERING_AMQP_URL"]


@contextmanager
def system(own: bool, run_dir: Path) -> Iterator[System]:
    # The same defaults as `folio-stack`, which `make up` runs.
    running = StackConfig(
        prefix=os.environ.get("FOLIO_PREFIX", defaults.PREFIX),
        vhost=os.environ.get("FOLIO_VHOST", defaults.VHOST),
        run_dir=run_dir,
    )
    honcho = None if own else _running(running)
    if honcho is not None:
        processes = observe.service_processes(observe.process_tree(honcho))
        databases, amqp_url = _urls(running)
        yield System(running, databases, processes, "the running system (make up)", amqp_url)
        return
    print("no running system (make up): starting one of its own (prefix folio_bench) ...", file=sys.stderr)
    stack = Stack(OWN_STACK)
    try:
        stack.prepare()
        stack.start()
        stack.wait_ready(timeout=180)
        processes = {name: p.pid for name, p in stack.processes.items() if name != "mail"}
        databases, amqp_url = _urls(OWN_STACK)
        yield System(OWN_STACK, databases, processes, "a stack of its own (folio_bench)", amqp_url)
    finally:
        print("removing the bench stack ...", file=sys.stderr)
        _teardown(stack)


def _teardown(stack: Stack, attempts: int = 6) -> None:
    """The broker or its management API may be away for a moment (the end-to-end tests restart the shared
    broker): try again rather than lose the figures, and say what is left behind if it never works."""
    for attempt in range(attempts):
        try:
            stack.teardown()
            return
        except (RuntimeError, subprocess.CalledProcessError) as error:
            print(f"teardown failed ({error}); trying again", file=sys.stderr)
            time.sleep(5 * (attempt + 1))
    config = stack.config
    print(
        f"could not remove the bench stack: run `folio-bootstrap teardown --prefix {config.prefix} "
        f"--vhost {config.vhost}`",
        file=sys.stderr,
    )


async def measure_ceilings(args: argparse.Namespace) -> tuple[Ceilings, RelayCeiling]:
    """The broker's raw rate with the outbox relay's drains against it (``relay_throughput``), then
    PostgreSQL's commit rate."""
    print(f"ceiling: broker, {args.raw_messages} confirmed publishes, and the relay ...", file=sys.stderr)
    relay = await relay_against_raw(
        rows=args.relay_rows,
        histories=args.relay_history,
        raw_messages=args.raw_messages,
        batch_size=defaults.OUTBOX_BATCH_SIZE,
    )
    print("ceiling: PostgreSQL commits ...", file=sys.stderr)
    postgres = await postgres_commit_rate(connections=8, seconds=args.ceiling_seconds)
    return Ceilings(relay.raw_confirmed_per_s, postgres.per_second, postgres.method), relay


async def run_steps(
    args: argparse.Namespace, sut: System, warnings: list[str]
) -> tuple[list[StepResult], list[profiling.Summary]]:
    target = sut.target()
    rng = random.Random(args.seed)
    run_id = f"{int(time.time())}-{rng.randrange(16**6):06x}"
    steps = rising_steps(args.rates, args.seconds)
    results: list[StepResult] = []
    summaries: list[profiling.Summary] = []
    async with http_client() as client:
        book_ids = await create_books(client, target, count=args.books, stock=args.stock, rng=rng)
        # What the system commits with nothing to do (the saga's deadline scan, the relays' polls ...),
        # subtracted from each step so that commits per order count the orders' own transactions.
        sql = await work_counters.sql_counter(sut.database_urls, test_servers().postgres_url)
        reader = DatabaseOutcomes(sut.database_urls["ordering"])
        metrics_urls = sut.metrics_urls()
        await asyncio.sleep(args.pause)
        idle_start, idle_from = await observe.commits(sut.database_urls), time.monotonic()
        idle_sql = await sql.read()
        idle_cpu = observe.cpu_sample(cpu_groups(sut), idle_from)
        await asyncio.sleep(args.idle_seconds)
        idle_seconds = time.monotonic() - idle_from
        idle_rate = (await observe.commits(sut.database_urls) - idle_start) / idle_seconds
        idle_sql_rates = {k: (v - idle_sql[k]) / idle_seconds for k, v in (await sql.read()).items()}
        idle_percent, _ = observe.cpu_percent(idle_cpu, observe.cpu_sample(cpu_groups(sut), time.monotonic()))
        folio_idle = sum(idle_percent.get(name, 0.0) for name in sut.processes)
        servers_idle = idle_percent.get(POSTGRES, 0.0) + idle_percent.get(BROKER, 0.0)
        print(
            f"idle: {idle_rate:.1f} commits/s; Folio's processes use {folio_idle:.1f}% of one core, "
            f"PostgreSQL's backends and the broker {servers_idle:.1f}%",
            file=sys.stderr,
        )
        # Which poll loop to look at first when idle costs too much.
        by_process = sorted(idle_percent.items(), key=lambda item: -item[1])
        print("idle, % of one core: " + ", ".join(f"{n} {p:.2f}" for n, p in by_process), file=sys.stderr)
        for index, step in enumerate(steps):
            print(
                f"step {index + 1}/{len(steps)}: {step.rate:g} orders/s for {step.seconds:g}s ...",
                file=sys.stderr,
            )
            recordings = _start_profiles(args, sut, step.seconds) if index == len(steps) - 1 else []
            commits_before, commits_from = await observe.commits(sut.database_urls), time.monotonic()
            sql_before = await sql.read()
            units_before = await work_counters.units_of_work(client, metrics_urls)
            trips_before = await work_counters.round_trips(client, metrics_urls)
            cpu_before = observe.cpu_sample(cpu_groups(sut), time.monotonic())
            async with observe.BrokerWatch(sut.amqp_url) as broker:
                run = await run_step(
                    client,
                    target,
                    step,
                    book_ids,
                    customer=f"bench-{run_id}-{step.rate:g}",
                    rng=rng,
                    settle_timeout=args.settle_timeout,
                    retry_for=args.retry_for,
                    reader=reader,
                )
            void = "the broker went away during the step" if broker.lost else None
            if void:
                warnings.append(
                    f"{void} at {step.rate:g}/s (restarted by something else?): its figures are void"
                )
                print(f"warning: {warnings[-1]}", file=sys.stderr)
            cpu_after = observe.cpu_sample(cpu_groups(sut), time.monotonic())
            units_after = await work_counters.units_of_work(client, metrics_urls)
            trips_after = await work_counters.round_trips(client, metrics_urls)
            # The last outbox rows (NotificationSent) and the backends' statistics land shortly after.
            await asyncio.sleep(1.5)
            idle_commits = idle_rate * (time.monotonic() - commits_from)
            commits = await observe.commits(sut.database_urls) - commits_before - idle_commits
            units = {n: units_after[n] - units_before[n] for n in units_after if n in units_before}
            messages = sum(count for name, count in units.items() if name.endswith("-worker"))
            sql_per_message = work_counters.per_message(
                sql_before, await sql.read(), idle_sql_rates, time.monotonic() - commits_from, messages
            ) | work_counters.round_trips_per_message(trips_before, trips_after, units)
            outbox = await observe.outbox_figures(sut.database_urls, run.started_at - 0.5, run.ended_at + 1.0)
            per_process, host = observe.cpu_percent(cpu_before, cpu_after)
            confirmed = run.result.confirmed
            results.append(
                replace(
                    run.result,
                    outbox_lag_ms=outbox.lag_ms,
                    messages_per_order=outbox.rows / confirmed if confirmed else None,
                    commits_per_order=commits / confirmed if confirmed else None,
                    cpu_percent=per_process,
                    host_cpu_percent=host,
                    void=void,
                    cpu_ms_per_order=(
                        observe.cpu_ms(cpu_before, cpu_after, [*sut.processes, POSTGRES]) / confirmed
                        if confirmed
                        else None
                    ),
                    folio_cpu_ms_per_order=(
                        observe.cpu_ms(cpu_before, cpu_after, sut.processes) / confirmed
                        if confirmed
                        else None
                    ),
                    servers_cpu_ms_per_order=(
                        observe.cpu_ms(cpu_before, cpu_after, [POSTGRES, BROKER]) / confirmed
                        if confirmed
                        else None
                    ),
                    cpu_us_per_unit={
                        name: 1000 * observe.cpu_ms(cpu_before, cpu_after, [name]) / count
                        for name, count in units.items()
                        if count > 0
                    },
                    units={name: round(count) for name, count in units.items()},
                    sql_per_message=sql_per_message,
                    sql_method=sql.method,
                )
            )
            summaries.extend(s for r in recordings if (s := profiling.finish(r)) is not None)
            await asyncio.sleep(args.pause)
    return results, summaries


POSTGRES = "postgres (their backends)"
BROKER = "rabbitmq (whole broker)"


def cpu_groups(sut: System) -> dict[str, list[int]]:
    """What the CPU figures follow: each service process, the PostgreSQL backends serving the services'
    databases, the broker (shared with anything else using it) and this process, the load generator."""
    groups = {name: [pid] for name, pid in sut.processes.items()}
    groups[POSTGRES] = observe.backend_pids(sut.database_urls)
    groups[BROKER] = sut.broker_pids or observe.pids_named("beam.smp")
    groups["load generator"] = [os.getpid()]
    return groups


def _start_profiles(args: argparse.Namespace, sut: System, seconds: float) -> list[profiling.Recording]:
    binary = profiling.py_spy()
    if not args.profile or binary is None:
        return []
    names = [n for n in sut.processes if args.profile == "all" or n in args.profile.split(",")]
    out_dir = args.out / f"profile-{args.stamp}"
    return [profiling.start(binary, n, sut.processes[n], seconds, out_dir) for n in names]


def profile_text(summaries: list[profiling.Summary]) -> str:
    lines = []
    for summary in sorted(summaries, key=lambda s: -s.busy):
        busy = summary.busy / (50 * summary.seconds) * 100 if summary.seconds else 0.0
        lines.append(
            f"\n== {summary.name}: {summary.busy} samples at 50 Hz not idle ({busy:.0f}% of the time running "
            "or waiting for a core)"
        )
        lines.append("   busy time by where it is spent (the innermost library on the stack):")
        lines.extend(f"   {percent:5.1f}%  {label}" for label, percent in summary.categories)
        lines.append("   busy time under:")
        lines.extend(f"   {percent:5.1f}%  {label}" for label, percent in summary.inclusive)
        lines.append("   hottest leaf frames (share of busy time):")
        lines.extend(f"   {percent:5.1f}%  {frame}" for frame, percent in summary.self_top[:8])
    return "\n".join(lines)


async def bench(args: argparse.Namespace) -> tuple[BenchReport, list[profiling.Summary]]:
    with system(args.own_stack, args.run_dir) as sut:
        sut.broker_pids = args.broker_pids
        started = utc_stamp()
        trials = []
        if args.generator_ceiling:
            print(f"ceiling: the load generator alone at {args.generator_ceiling} ...", file=sys.stderr)
            trials = await generator_ceiling(parse_rates(args.generator_ceiling), args.generator_seconds)
        ceilings, relay = await measure_ceilings(args)
        warnings: list[str] = []
        steps, summaries = await run_steps(args, sut, warnings)
        notes = [
            *warnings,
            *ceiling_lines(relay),
            f"{os.cpu_count()} CPUs shared by every process of the system, the load generator, the broker "
            "and PostgreSQL (and whatever else runs on the machine: see host CPU)",
            "outbox lag: created_at (the writing transaction's start) to published_at (after the broker's "
            "confirm); commits/order: transactions in the four databases (reads included) beyond the idle "
            "rate; CPU ms/order: user+system time of the eight service processes and of the PostgreSQL "
            "backends serving their databases (not the broker's, not the load generator's); Folio / servers: "
            "the eight service processes against PostgreSQL's backends plus the whole broker (which counts "
            "anything else using it too), per confirmed order",
            "offered/s: first attempts per second (a shed order's retries are not counted again), '!' when "
            "under 95% of the asked rate; shed: answers 429/503, each retried after its Retry-After with "
            "the same Idempotency-Key; err: orders not accepted in the end",
            "CPU µs per unit of work: the process's CPU over the step (sending and draining, its relay and "
            "timers included) divided by the requests it answered (folio_http_requests) or the messages it "
            "handled (folio_consumer_messages{outcome=handled}); in brackets, how many",
        ]
        report = BenchReport(
            started_at=started,
            target=f"{sut.description}: {sut.target().describe()}",
            host=describe_host(),
            steps=steps,
            ceilings=ceilings,
            notes=notes,
            generator_ceiling=trials,
        )
    return report, summaries


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    load_arguments(parser)
    parser.add_argument("--own-stack", action="store_true", help="start a stack of its own even if one runs")
    parser.add_argument("--run-dir", type=Path, default=Path(".run"), help="where `make up` keeps its state")
    parser.add_argument("--raw-messages", type=int, default=20_000, help="publishes for the broker ceiling")
    parser.add_argument(
        "--relay-history",
        type=lambda text: [int(n) for n in text.split(",") if n],
        default=[0, 2_000_000],
        help="published rows retained beside the relay's backlog, one drain each (default 0,2000000)",
    )
    parser.add_argument("--relay-rows", type=int, default=20_000, help="backlog rows the relay drains")
    parser.add_argument("--ceiling-seconds", type=float, default=5.0, help="length of the PostgreSQL ceiling")
    parser.add_argument("--pause", type=float, default=2.0, help="idle seconds between steps")
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="idle commits measured this long")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="ordering-api,ordering-worker,catalog-worker,notification-worker",
        default="",
        help="py-spy these processes (comma-separated, or 'all') during the last step",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for the JSON and PNG")
    parser.add_argument(
        "--generator-ceiling",
        nargs="?",
        const=CEILING_RATES,
        default="",
        help=f"first measure the load generator alone against a trivial local server at these rates "
        f"(default {CEILING_RATES})",
    )
    parser.add_argument(
        "--broker-pids",
        type=lambda text: [int(pid) for pid in text.split(",") if pid],
        default=[],
        help="the broker's processes, for its CPU (default: every beam.smp, another broker's included)",
    )
    parser.add_argument("--generator-seconds", type=float, default=5.0, help="length of each such rate")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    args.stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    # uvloop, as every role runs: the broker's raw rate is measured on the loop the relay uses.
    report, summaries = uvloop.run(bench(args))
    args.out.mkdir(parents=True, exist_ok=True)
    data = report.to_json()
    data["profiles"] = [vars(s) for s in summaries]
    json_path = args.out / f"{args.stamp}.json"
    json_path.write_text(json.dumps(data, indent=2))
    png_path = draw(report, args.out / f"{args.stamp}.png")
    print(render_table(report))
    if summaries:
        print(profile_text(summaries))
        print(f"\nprofiles (collapsed stacks): {args.out / f'profile-{args.stamp}'}")
    print(f"\nfigures: {json_path}\nchart:   {png_path}")


if __name__ == "__main__":
    main()
