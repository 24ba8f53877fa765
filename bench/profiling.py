"""py-spy on the services' processes during the heaviest step, summed up as the frames that cost most."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


def py_spy() -> str | None:
    return shutil.which("py-spy") or (
        str(p) if (p := Path(sys.executable).with_name("py-spy")).exists() else None
    )


@dataclass
class Recording:
    name: str
    raw: Path  # collapsed stacks: speedscope.app or flamegraph.pl draw them
    process: subprocess.Popen[bytes]
    seconds: float


def start(binary: str, name: str, pid: int, seconds: float, out_dir: Path, rate: int = 50) -> Recording:
    """Sample ``pid`` for ``seconds``; idle threads are left out (py-spy pauses the process for each sample:
    --nonblocking would not, but then cannot tell a thread waiting in epoll from one working)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / f"{name}.txt"
    argv = [binary, "record", "-r", str(rate), "-d", str(max(1, round(seconds)))]
    argv += ["--pid", str(pid), "--format", "raw", "-o", str(raw)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Recording(name, raw, process, seconds)


def finish(recording: Recording) -> Summary | None:
    try:
        recording.process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        recording.process.kill()
        recording.process.wait()
    if not recording.raw.exists():
        return None
    return summarize(recording.name, recording.raw.read_text(), recording.seconds)


# Where a sample's time goes: the frame nearest the leaf that belongs to one of these, first match wins.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("socket send/receive (syscalls)", ("asyncio/selector_events.py",)),
    ("idle: epoll wait", ("selectors.py",)),
    ("idle: thread wait", ("threading.py", "concurrent/futures/thread.py", "queue.py")),
    ("asyncpg", ("asyncpg/",)),
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("AMQP client (aio-pika, aiormq, pamqp)", ("aiormq/", "aio_pika/", "pamqp/")),
    ("FastStream", ("faststream/",)),
    ("OpenTelemetry", ("opentelemetry", "Instrumentor", "trace/", "sdk/", "BoundedList", "use_span")),
    ("logging", ("logging/", "jsonlogger", "observability/logging")),
    ("pydantic", ("pydantic",)),
    (
        "HTTP server (uvicorn, Starlette, FastAPI)",
        ("uvicorn/", "starlette/", "fastapi/", "h11/", "httptools"),
    ),
    ("prometheus-client", ("prometheus_client/",)),
    ("JSON Web Tokens", ("jwt/", "cryptography/")),
    ("e-mail (smtplib, jinja2, email)", ("aiosmtplib/", "jinja2/", "email/")),
    (
        "Folio code (chassis, services)",
        ("chassis/", "ordering/", "catalog/", "notification/", "rating/", "contracts/"),
    ),
)
OTHER = "other (asyncio, stdlib)"
IDLE = frozenset(name for name, _ in CATEGORIES if name.startswith("idle"))


# Shares of the busy time spent anywhere under these (a sample may count under several).
INCLUSIVE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("database client: SQLAlchemy + asyncpg, with their socket writes", ("sqlalchemy/", "asyncpg/")),
    ("AMQP client: aio-pika, aiormq, pamqp", ("aiormq/", "aio_pika/", "pamqp/")),
    ("outbox relay (chassis.outbox)", ("chassis/outbox/",)),
    ("HTTP request handling", ("starlette/", "fastapi/")),
)


def category(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, markers in CATEGORIES:
            if any(marker in frame for marker in markers):
                return name
    return OTHER


@dataclass(frozen=True)
class Summary:
    """py-spy samples every thread, and cannot always tell a waiting thread (an OpenTelemetry exporter, a
    thread pool) from a working one: samples whose leaf is a wait count as idle, the rest as busy."""

    name: str
    samples: int
    seconds: float
    busy: int  # samples not waiting
    categories: list[tuple[str, float]]  # category, percent of the busy samples
    inclusive: list[tuple[str, float]]  # INCLUSIVE label, percent of the busy samples
    self_top: list[tuple[str, float]]  # frame, percent of the busy samples spent in it (leaf)
    inclusive_top: list[tuple[str, float]]  # frame, percent of the busy samples with it on the stack


def summarize(name: str, collapsed: str, seconds: float = 0.0, top: int = 12) -> Summary:
    """From py-spy's raw (collapsed) output: ``frame;frame;leaf count`` per line."""
    leaves: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    samples = busy = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = stack.split(";")
        kind = category(frames)
        if kind in IDLE:
            continue
        busy += count
        categories[kind] += count
        leaves[frames[-1]] += count
        for label, markers in INCLUSIVE:
            if any(marker in frame for frame in frames for marker in markers):
                inclusive[label] += count
        for frame in set(frames):
            anywhere[frame] += count
    percent = 100 / busy if busy else 0.0

    def shares(counter: Counter[str], most: int | None = None) -> list[tuple[str, float]]:
        return [(key, round(n * percent, 1)) for key, n in counter.most_common(most)]

    return Summary(
        name,
        samples,
        seconds,
        busy,
        shares(categories),
        shares(inclusive),
        shares(leaves, top),
        shares(anywhere, top * 3),
    )
