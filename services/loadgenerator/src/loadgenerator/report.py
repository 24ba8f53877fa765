"""What a run measured: one result per rate step, the ceilings measured beside them, as a table or JSON."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from loadgenerator.orders import BEHIND_SHARE
from loadgenerator.stats import Latency


@dataclass(frozen=True)
class StepResult:
    rate: float
    seconds: float
    placed: int
    accepted: int  # answered 202
    failed: int  # any other answer, or no answer
    sent_per_s: float  # accepted orders over the sending time: the rate actually offered
    confirmed: int
    rejected: int  # rejected or cancelled: with ample stock, a sign of trouble
    unsettled: int  # still pending when the step gave up waiting
    # Confirmations per second between the step's first and last one: the rate the system kept up.
    confirmed_per_s: float
    drain_seconds: float  # from the last order sent to the last one confirmed
    post_ms: Latency  # POST /orders as the client saw it
    placed_to_confirmed_ms: Latency  # the order's placed_at to its confirmation, both stamped by ordering
    send_lag_ms: float  # the sender's worst lateness against its schedule (its own health)
    # First attempts per second (the rate really offered) and the generator's CPU (% of one core) meanwhile.
    offered_per_s: float | None = None
    generator_cpu_percent: float | None = None
    shed: int = 0  # answers 429/503 with Retry-After, each followed by a retry of the same order
    # Orders not accepted in the end, by their last HTTP status ("0": no answer, a transport error).
    failed_statuses: dict[str, int] = field(default_factory=dict)
    # Filled by a runner that can read the services' databases (`make bench`); empty otherwise.
    outbox_lag_ms: dict[str, Latency] = field(default_factory=dict)
    messages_per_order: float | None = None
    commits_per_order: float | None = None
    # Per process, percent of one core over the step (sending and draining); the whole machine's busy
    # percent (100 = every core), which on a shared box includes whatever else runs there.
    cpu_percent: dict[str, float] = field(default_factory=dict)
    host_cpu_percent: float | None = None
    cpu_ms_per_order: float | None = None  # CPU time of the services' processes per confirmed order
    # Per confirmed order: Folio's own processes, and the servers it drives (PostgreSQL backends + broker).
    folio_cpu_ms_per_order: float | None = None
    servers_cpu_ms_per_order: float | None = None
    # Per process: CPU µs per message handled (workers) or per HTTP request answered (APIs), from the
    # processes' CPU time and their own Prometheus counters; and how many of those it counted.
    cpu_us_per_unit: dict[str, float] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)
    # Database work per handled message (every worker's), by what could be counted (see sql_method).
    sql_per_message: dict[str, float] = field(default_factory=dict)
    sql_method: str = ""
    # Set when something outside the system spoiled the step (the broker restarted meanwhile, say).
    void: str | None = None

    @property
    def behind(self) -> bool:
        """The generator offered clearly less than asked: the step measured the generator, not Folio."""
        return self.offered_per_s is not None and self.offered_per_s < BEHIND_SHARE * self.rate

    @property
    def cpu_ratio(self) -> float | None:
        """Folio's CPU per order over the servers': issue #12 wants it at 1 or below."""
        folio, servers = self.folio_cpu_ms_per_order, self.servers_cpu_ms_per_order
        return folio / servers if folio is not None and servers else None

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["post_ms"] = self.post_ms.to_json()
        data["placed_to_confirmed_ms"] = self.placed_to_confirmed_ms.to_json()
        data["outbox_lag_ms"] = {name: lag.to_json() for name, lag in self.outbox_lag_ms.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepResult:
        values = dict(data)
        values["post_ms"] = Latency.from_json(data["post_ms"])
        values["placed_to_confirmed_ms"] = Latency.from_json(data["placed_to_confirmed_ms"])
        values["outbox_lag_ms"] = {k: Latency.from_json(v) for k, v in data.get("outbox_lag_ms", {}).items()}
        return cls(**values)


@dataclass(frozen=True)
class Ceilings:
    """What the infrastructure alone does on this machine, measured in the same run."""

    broker_publishes_per_s: float | None  # confirmed persistent publishes, aio-pika, no database
    postgres_commits_per_s: float | None  # single-row INSERT + COMMIT, several connections
    postgres_method: str = ""


@dataclass(frozen=True)
class BenchReport:
    started_at: str
    target: str
    host: dict[str, Any]
    steps: list[StepResult]
    ceilings: Ceilings | None = None
    notes: list[str] = field(default_factory=list)
    # The generator alone against a trivial local HTTP server (``ceiling.py``), one entry per rate tried.
    generator_ceiling: list[dict[str, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "target": self.target,
            "host": self.host,
            "steps": [step.to_json() for step in self.steps],
            "ceilings": None if self.ceilings is None else vars(self.ceilings),
            "implied_ceilings_orders_per_s": implied_ceilings(self),
            "notes": self.notes,
            "generator_ceiling": self.generator_ceiling,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchReport:
        ceilings = data.get("ceilings")
        return cls(
            started_at=data["started_at"],
            target=data["target"],
            host=data["host"],
            steps=[StepResult.from_json(step) for step in data["steps"]],
            ceilings=None if ceilings is None else Ceilings(**ceilings),
            notes=list(data.get("notes", [])),
            generator_ceiling=list(data.get("generator_ceiling", [])),
        )


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None and not math.isnan(v)]
    return sum(present) / len(present) if present else None


def implied_ceilings(report: BenchReport) -> dict[str, float | None]:
    """Each ceiling divided by what one order costs of it: the orders/s it alone would allow.

    Costs are averaged over the steps; the CPU ceiling gives the services every core of the machine, so
    it is an upper bound (the broker, PostgreSQL and the load generator share those cores).
    """
    ceilings = report.ceilings
    messages = _mean([step.messages_per_order for step in report.steps])
    commits = _mean([step.commits_per_order for step in report.steps])
    cpu_ms = _mean([step.cpu_ms_per_order for step in report.steps])
    broker = ceilings.broker_publishes_per_s if ceilings else None
    postgres = ceilings.postgres_commits_per_s if ceilings else None
    cpus = report.host.get("cpus")
    return {
        "broker": broker / messages if broker and messages else None,
        "postgres": postgres / commits if postgres and commits else None,
        "cpu": 1000 * cpus / cpu_ms if cpus and cpu_ms else None,
    }


def _ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _triple(latency: Latency) -> str:
    return f"{_ms(latency.p50)} / {_ms(latency.p95)} / {_ms(latency.p99)}"


def _optional(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _hottest(cpu: dict[str, float], count: int = 3) -> str:
    ranked = sorted(cpu.items(), key=lambda item: -item[1])[:count]
    return ", ".join(f"{name} {percent:.0f}" for name, percent in ranked) or "-"


def _columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Right-aligned columns, the last one left as it is; a rule under the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for i, row in enumerate(rows):
        cells = [cell.rjust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
        if i == 0:
            lines.append("  ".join("-" * width for width in widths))
    return lines


def _cpu_split(step: StepResult) -> str:
    folio, servers, ratio = step.folio_cpu_ms_per_order, step.servers_cpu_ms_per_order, step.cpu_ratio
    if folio is None or servers is None:
        return "-"
    return f"{folio:.1f} / {servers:.1f} = {_optional(ratio, '.1f')}"


def _offered(step: StepResult) -> str:
    offered = step.sent_per_s if step.offered_per_s is None else step.offered_per_s
    return f"{offered:.1f}" + (" !" if step.behind else "")


def _per_process(steps: list[StepResult]) -> list[str]:
    """CPU µs per unit of work, one row per process, one column per step; then SQL per handled message."""
    names = sorted({name for step in steps for name in step.cpu_us_per_unit})
    if not names:
        return []
    header = ("CPU µs per unit of work", *(f"at {step.rate:g}/s" for step in steps), "")
    rows: list[tuple[str, ...]] = [header]
    for name in names:
        unit = "HTTP request" if name.endswith("-api") else "message handled"
        cells = []
        for step in steps:
            value, count = step.cpu_us_per_unit.get(name), step.units.get(name, 0)
            cells.append("-" if value is None else f"{value:,.0f} ({count})")
        rows.append((f"{name} per {unit}", *cells, ""))
    kinds = sorted({kind for step in steps for kind in step.sql_per_message})
    for kind in kinds:
        cells = [_optional(step.sql_per_message.get(kind), ".1f") for step in steps]
        rows.append((f"{kind} per message handled", *cells, ""))
    lines = ["", *_columns(rows)]
    methods = sorted({step.sql_method for step in steps if step.sql_method})
    lines.extend(f"SQL counted from {method}" for method in methods)
    return lines


def render_table(report: BenchReport) -> str:
    """The figures as a plain-text table, one row per rate step, then per process, then the ceilings."""
    header = (
        "rate/s",
        "offered/s",
        "confirmed/s",
        "ok/rej/left/err",
        "shed",
        "placed→confirmed ms p50/p95/p99",
        "POST ms p50/p99",
        "outbox ms p50/p99",
        "msgs/order",
        "commits/order",
        "CPU ms/order Folio / servers = ratio",
        "host CPU",
        "gen CPU",
        "hottest processes (% of a core)",
    )
    rows = [header]
    for step in report.steps:
        outbox = step.outbox_lag_ms.get("all")
        rows.append(
            (
                f"{step.rate:g}" + (" (void)" if step.void else ""),
                _offered(step),
                f"{step.confirmed_per_s:.1f}",
                f"{step.confirmed}/{step.rejected}/{step.unsettled}/{step.failed}",
                str(step.shed),
                _triple(step.placed_to_confirmed_ms),
                f"{_ms(step.post_ms.p50)} / {_ms(step.post_ms.p99)}",
                "-" if outbox is None else f"{_ms(outbox.p50)} / {_ms(outbox.p99)}",
                _optional(step.messages_per_order, ".1f"),
                _optional(step.commits_per_order, ".1f"),
                _cpu_split(step),
                "-" if step.host_cpu_percent is None else f"{step.host_cpu_percent:.0f}%",
                _optional(step.generator_cpu_percent, ".0f") + ("%" if step.generator_cpu_percent else ""),
                _hottest(step.cpu_percent),
            )
        )
    lines = [f"Folio order benchmark, {report.started_at}, against {report.target}", *_columns(rows)]
    lines.extend(
        f"note: at {step.rate:g}/s, orders not accepted by their last answer: "
        + ", ".join(
            f"{count} answered {status}" if status != "0" else f"{count} with no answer"
            for status, count in sorted(step.failed_statuses.items())
        )
        for step in report.steps
        if step.failed_statuses
    )
    lines.extend(_per_process(report.steps))
    lines.extend(
        f"note: the load generator fell behind at {step.rate:g}/s: it offered {step.offered_per_s:.1f}/s "
        f"using {_optional(step.generator_cpu_percent, '.0f')}% of a core, so the step measured the generator"
        for step in report.steps
        if step.behind
    )
    if report.ceilings is not None:
        implied = implied_ceilings(report)
        broker, postgres = report.ceilings.broker_publishes_per_s, report.ceilings.postgres_commits_per_s
        lines.append("")
        lines.append(
            f"ceiling, broker confirmed publishes: {_optional(broker, ',.0f')} msg/s"
            f"  → {_optional(implied['broker'], ',.0f')} orders/s at the measured messages per order"
        )
        lines.append(
            f"ceiling, PostgreSQL commits:         {_optional(postgres, ',.0f')} commits/s"
            f"  → {_optional(implied['postgres'], ',.0f')} orders/s at the measured commits per order"
            + (f"  ({report.ceilings.postgres_method})" if report.ceilings.postgres_method else "")
        )
        lines.append(
            f"ceiling, CPU of the services:        {report.host.get('cpus', '?')} cores"
            f"  → {_optional(implied['cpu'], ',.0f')} orders/s at the measured CPU time per order"
        )
    lines.extend(generator_ceiling_lines(report.generator_ceiling))
    lines.extend(f"note: {note}" for note in report.notes)
    return "\n".join(lines)


def generator_ceiling_lines(trials: list[dict[str, float]]) -> list[str]:
    return [
        f"ceiling, the load generator alone:   asked {t['rate']:g}/s, offered {t['offered_per_s']:.1f}/s "
        f"using {t['cpu_percent']:.0f}% of a core (POST ms p50/p99 {_ms(t['post_p50_ms'])} / "
        f"{_ms(t['post_p99_ms'])}, against a trivial local HTTP server)"
        for t in trials
    ]
