"""The report drawn as one PNG: throughput with its ceilings, the two latencies, and where the CPU went."""

from __future__ import annotations

import math
from pathlib import Path

# The Figure API draws straight to a file: no pyplot, no global backend, no display.
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from loadgenerator.report import BenchReport, StepResult, implied_ceilings
from loadgenerator.stats import Latency

CEILING_STYLES = {
    "broker": ("tab:orange", "broker ceiling"),
    "postgres": ("tab:green", "PostgreSQL ceiling"),
    "cpu": ("tab:purple", "CPU ceiling (all cores)"),
}
PLAIN = FuncFormatter(lambda value, _: f"{value:g}")


def _log_axis(axes: Axes) -> None:
    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(PLAIN)
    axes.yaxis.set_minor_formatter(NullFormatter())


def _latency(steps: list[StepResult], pick: str, key: str) -> list[float]:
    values = []
    for step in steps:
        latency: Latency | None = getattr(step, pick) if pick != "outbox" else step.outbox_lag_ms.get("all")
        values.append(math.nan if latency is None else getattr(latency, key))
    return values


def _throughput(axes: Axes, report: BenchReport, x: list[int]) -> None:
    offered = [s.sent_per_s if s.offered_per_s is None else s.offered_per_s for s in report.steps]
    axes.plot(x, offered, "o--", color="grey", label="orders offered/s")
    shed = [s.shed / s.seconds if s.shed else math.nan for s in report.steps]
    axes.plot(x, shed, "x:", color="tab:red", label="answers shed/s (429/503, retried)")
    axes.plot(
        x, [s.confirmed_per_s for s in report.steps], "o-", color="tab:blue", label="orders confirmed/s"
    )
    for name, value in implied_ceilings(report).items():
        if value:
            colour, text = CEILING_STYLES[name]
            axes.axhline(value, color=colour, linestyle=":", label=f"{text} ≈ {value:,.0f} orders/s")
    _log_axis(axes)
    axes.set_title("Throughput (orders/s) and the ceilings it would hit")
    axes.legend(fontsize=8, loc="center right")


def _latencies(axes: Axes, report: BenchReport, x: list[int]) -> None:
    for key, colour in (("p50", "tab:blue"), ("p95", "tab:orange"), ("p99", "tab:red")):
        axes.plot(x, _latency(report.steps, "placed_to_confirmed_ms", key), "o-", color=colour, label=key)
    _log_axis(axes)
    axes.set_title("Placed → confirmed latency (ms)")
    axes.legend(fontsize=8, loc="upper left")


def _outbox(axes: Axes, report: BenchReport, x: list[int]) -> None:
    for key, colour in (("p50", "tab:blue"), ("p99", "tab:red")):
        axes.plot(x, _latency(report.steps, "outbox", key), "o-", color=colour, label=f"{key}, every service")
    _log_axis(axes)
    axes.set_title("Outbox commit → publish confirmed (ms)")
    axes.legend(fontsize=8, loc="upper left")


def _cpu(axes: Axes, report: BenchReport, x: list[int]) -> None:
    host = [math.nan if s.host_cpu_percent is None else s.host_cpu_percent for s in report.steps]
    cpus = report.host.get("cpus") or 1
    ours = [sum(s.cpu_percent.values()) / cpus if s.cpu_percent else math.nan for s in report.steps]
    axes.bar(x, host, color="lightgrey", label="machine busy (100 = every core)")
    axes.bar(x, ours, width=0.4, color="darkgrey", label="of which the processes below")
    names = sorted({name for s in report.steps for name in s.cpu_percent})
    for name in names:
        values = [s.cpu_percent.get(name, math.nan) for s in report.steps]
        style = "o-" if name.endswith("worker") else "s--"
        axes.plot(x, values, style, label=name, linewidth=1)
    axes.set_ylim(0, 100)
    axes.set_title("CPU: lines % of one core per process, bars % of the machine")
    axes.legend(fontsize=7, loc="upper left", ncol=2)


def draw(report: BenchReport, path: Path) -> Path:
    x = list(range(len(report.steps)))
    figure = Figure(figsize=(14, 9.5))
    (throughput, latency), (outbox, cpu) = figure.subplots(2, 2)
    _throughput(throughput, report, x)
    _latencies(latency, report, x)
    _outbox(outbox, report, x)
    _cpu(cpu, report, x)
    for axes in (throughput, latency, outbox, cpu):
        axes.set_xticks(x, [f"{s.rate:g}" + ("\n(void)" if s.void else "") for s in report.steps])
        axes.set_xlabel("offered rate (orders/s)")
        axes.grid(True, which="major", alpha=0.3)
    subtitle = f"{report.target}\n{report.host.get('cpus', '?')} CPUs"
    if report.ceilings is not None:
        broker, postgres = report.ceilings.broker_publishes_per_s, report.ceilings.postgres_commits_per_s
        subtitle += (
            f" · broker {broker or 0:,.0f} confirmed msg/s · PostgreSQL {postgres or 0:,.0f} commits/s"
        )
    figure.suptitle(f"Folio order benchmark, {report.started_at}\n{subtitle}", fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path
