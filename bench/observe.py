"""What `make bench` reads beside the load generator's own figures: the services' outbox rows and commit
counts (as each service's database role, from its own database) and the processes' CPU time (/proc)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import asyncpg

from loadgenerator.stats import Latency

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# ----------------------------------------------------------------------------------------- the databases


async def _fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def commits(database_urls: dict[str, str]) -> int:
    """Transactions committed so far in the services' databases (pg_stat_database, read and write alike)."""
    total = 0
    for url in database_urls.values():
        rows = await _fetch(
            url, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
        total += int(rows[0]["xact_commit"])
    return total


OUTBOX_ROWS = """
SELECT extract(epoch FROM published_at - created_at) * 1000 AS lag_ms
FROM outbox
WHERE created_at >= to_timestamp($1) AND created_at <= to_timestamp($2)
"""


@dataclass(frozen=True)
class OutboxFigures:
    lag_ms: dict[str, Latency]  # per service and "all"; rows still unpublished are left out
    rows: int  # rows written in the window, published or not
    unpublished: int


async def outbox_figures(database_urls: dict[str, str], start: float, end: float) -> OutboxFigures:
    """Commit → confirmed publish of the rows written between ``start`` and ``end`` (epoch seconds).

    ``created_at`` is the writing transaction's start, a millisecond or so before its commit, so the lag
    is slightly pessimistic; ``published_at`` is stamped once the broker confirmed the publish.
    """
    per_service: dict[str, list[float]] = {}
    rows = unpublished = 0
    for service, url in database_urls.items():
        records = await _fetch(url, OUTBOX_ROWS, start, end)
        rows += len(records)
        lags = [float(r["lag_ms"]) for r in records if r["lag_ms"] is not None]
        unpublished += len(records) - len(lags)
        if lags:
            per_service[service] = lags
    everything = [lag for lags in per_service.values() for lag in lags]
    lag_ms = {service: Latency.of(lags) for service, lags in per_service.items()}
    lag_ms["all"] = Latency.of(everything)
    return OutboxFigures(lag_ms, rows, unpublished)


# ----------------------------------------------------------------------------------------------- the broker


class BrokerWatch:
    """An idle AMQP connection held through a step: if the broker restarted meanwhile (the end-to-end fault
    tests restart the machine's shared broker), it is gone, and the step's figures mean nothing."""

    def __init__(self, amqp_url: str) -> None:
        self.amqp_url = amqp_url
        self.lost = False

    async def __aenter__(self) -> BrokerWatch:
        """Waits for a broker that is away (restarting) to come back, up to two minutes."""
        for _ in range(60):
            try:
                self.connection = await aio_pika.connect(self.amqp_url)
                break
            except (OSError, aio_pika.exceptions.AMQPError):
                await asyncio.sleep(2)
        else:
            raise RuntimeError("the broker did not come back within two minutes")
        self.connection.close_callbacks.add(self._closed)
        return self

    def _closed(self, *_: object) -> None:
        self.lost = True

    async def __aexit__(self, *_: object) -> None:
        self.lost = self.lost or not self.connection.connected.is_set()
        self.connection.close_callbacks.discard(self._closed)
        with contextlib.suppress(Exception):
            await self.connection.close()


# ------------------------------------------------------------------------------------------ the processes


def _cpu_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (2nd field) may hold spaces; utime and stime are the 14th and 15th fields.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def _host_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, every core."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


@dataclass(frozen=True)
class CpuSample:
    at: float  # monotonic seconds
    groups: dict[str, dict[int, int]]  # group name -> pid -> CPU ticks so far
    host: tuple[int, int]


def cpu_sample(groups: dict[str, list[int]], at: float) -> CpuSample:
    """CPU ticks of each group's processes (a service process, PostgreSQL's backends, the broker ...)."""
    ticks = {
        name: {pid: t for pid in pids if (t := _cpu_ticks(pid)) is not None} for name, pids in groups.items()
    }
    return CpuSample(at, ticks, _host_ticks())


def _group_ticks(before: CpuSample, after: CpuSample, name: str) -> int:
    """A process first seen at the end (a connection opened meanwhile) counts whole; one that came and
    went in between is missed."""
    then, now = before.groups.get(name, {}), after.groups.get(name, {})
    return sum(ticks - then.get(pid, 0) for pid, ticks in now.items())


def cpu_percent(before: CpuSample, after: CpuSample) -> tuple[dict[str, float], float]:
    """Per group: percent of one core between the samples; and the machine's busy percent."""
    seconds = after.at - before.at
    per_group = {
        name: round(100 * _group_ticks(before, after, name) / CLOCK_TICKS / seconds, 1)
        for name in before.groups
        if seconds > 0
    }
    busy = after.host[0] - before.host[0]
    total = after.host[1] - before.host[1]
    return per_group, round(100 * busy / total, 1) if total else 0.0


def cpu_ms(before: CpuSample, after: CpuSample, names: Iterable[str]) -> float:
    """CPU milliseconds the named groups used between the samples."""
    return 1000 * sum(_group_ticks(before, after, name) for name in names) / CLOCK_TICKS


def backend_pids(database_urls: dict[str, str]) -> list[int]:
    """PostgreSQL's server processes serving the services' databases, by their titles
    (``postgres: 15/main: <role> <database> 127.0.0.1(port) idle``)."""
    names = {url.rsplit("/", 1)[1].split("?")[0] for url in database_urls.values()}
    found = []
    for pid in pids_named("postgres"):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        words = title.decode(errors="replace").split()
        if len(words) > 3 and words[3] in names:
            found.append(pid)
    return found


def pids_named(command: str) -> list[int]:
    """Processes whose command name (/proc/<pid>/comm) is ``command``, such as ``beam.smp``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == command:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def process_tree(root: int) -> Iterable[int]:
    """Every descendant of ``root`` (by parent pid), for a supervisor such as honcho."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    found.discard(root)
    return sorted(found)


def service_processes(pids: Iterable[int]) -> dict[str, int]:
    """``catalog-api``, ``ordering-worker``, ... from command lines such as ``folio-catalog api``."""
    named: dict[str, int] = {}
    for pid in pids:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        for i, arg in enumerate(argv[:-1]):
            script = os.path.basename(arg)
            if script.startswith("folio-") and argv[i + 1] in ("api", "worker", "all"):
                named[f"{script.removeprefix('folio-')}-{argv[i + 1]}"] = pid
    return named
