"""What a run measured: one result per rate step, the ceilings measured beside them, as a table or JSON."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

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
    # Filled by a runner that can read the services' databases (`make bench`); empty otherwise.
    outbox_lag_ms: dict[str, Latency] = field(default_factory=dict)
    messages_per_order: float | None = None
    commits_per_order: float | None = None
    # Per process, percent of one core over the step (sending and draining); the whole machine's busy
    # percent (100 = every core), which on a shared box includes whatever else runs there.
    cpu_percent: dict[str, float] = field(default_factory=dict)
    host_cpu_percent: float | None = None
    cpu_ms_per_order: float | None = None  # CPU time of the services' processes per confirmed order
    # Set when something outside the system spoiled the step (the broker restarted meanwhile, say).
    void: str | None = None

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

    def to_json(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "target": self.target,
            "host": self.host,
            "steps": [step.to_json() for step in self.steps],
            "ceilings": None if self.ceilings is None else vars(self.ceilings),
            "implied_ceilings_orders_per_s": implied_ceilings(self),
            "notes": self.notes,
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


def render_table(report: BenchReport) -> str:
    """The figures as a plain-text table, one row per rate step, then the ceilings."""
    header = (
        "rate/s",
        "sent/s",
        "confirmed/s",
        "ok/rej/left/err",
        "placed→confirmed ms p50/p95/p99",
        "POST ms p50/p99",
        "outbox ms p50/p99",
        "msgs/order",
        "commits/order",
        "CPU ms/order",
        "host CPU",
        "hottest processes (% of a core)",
    )
    rows = [header]
    for step in report.steps:
        outbox = step.outbox_lag_ms.get("all")
        rows.append(
            (
                f"{step.rate:g}" + (" (void)" if step.void else ""),
                f"{step.sent_per_s:.1f}",
                f"{step.confirmed_per_s:.1f}",
                f"{step.confirmed}/{step.rejected}/{step.unsettled}/{step.failed}",
                _triple(step.placed_to_confirmed_ms),
                f"{_ms(step.post_ms.p50)} / {_ms(step.post_ms.p99)}",
                "-" if outbox is None else f"{_ms(outbox.p50)} / {_ms(outbox.p99)}",
                _optional(step.messages_per_order, ".1f"),
                _optional(step.commits_per_order, ".1f"),
                _optional(step.cpu_ms_per_order, ".1f"),
                "-" if step.host_cpu_percent is None else f"{step.host_cpu_percent:.0f}%",
                _hottest(step.cpu_percent),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [f"Folio order benchmark, {report.started_at}, against {report.target}"]
    for i, row in enumerate(rows):
        cells = [cell.rjust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
        if i == 0:
            lines.append("  ".join("-" * width for width in widths))
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
    lines.extend(f"note: {note}" for note in report.notes)
    return "\n".join(lines)
