"""The sender: places orders at the step's instants (open loop) and records how each POST went.

An order the API sheds (429 or 503 with ``Retry-After``) is sent again after the pause it asks for, as the
same order: same body, same ``Idempotency-Key``, so a retry can never place it twice. Its latency runs
from the first attempt to the last answer.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass

import aiohttp

from loadgenerator.schedule import RateStep

ORDERS_PATH = "/api/v1/orders"
SHED_STATUSES = frozenset({429, 503})
# Retry-After missing or a date (we only honour seconds): wait this long.
DEFAULT_RETRY_AFTER = 1.0
# The generator is said to fall behind when it offered less than this share of the asked rate.
BEHIND_SHARE = 0.95


@dataclass(frozen=True, slots=True)
class Placement:
    order_id: str | None  # None when the order was not accepted
    status: int  # the last HTTP status, 0 for a transport error
    sent_at: float  # epoch seconds, the first attempt
    seconds: float  # from the first attempt to the last answer
    shed: int = 0  # attempts answered 429/503 and retried (or given up on)


@dataclass(frozen=True, slots=True)
class Sent:
    placements: list[Placement]
    worst_lateness: float  # seconds the sender fell behind its schedule, at worst
    # First attempts per second over the sending time: the rate really offered.
    offered_per_s: float | None = None
    # The generator process' CPU time over the sending, in percent of one core.
    cpu_percent: float | None = None


def order_lines(books: list[str], rng: random.Random, max_lines: int = 3) -> list[dict[str, object]]:
    """One to ``max_lines`` distinct books, one or two copies each."""
    chosen = rng.sample(books, rng.randint(1, min(max_lines, len(books))))
    return [{"book_id": book, "quantity": rng.randint(1, 2)} for book in chosen]


def retry_after(response: aiohttp.ClientResponse) -> float:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else DEFAULT_RETRY_AFTER


async def place(
    client: aiohttp.ClientSession,
    url: str,
    token: str,
    lines: list[dict[str, object]],
    *,
    retry_for: float,
) -> Placement:
    """One order, retried as itself while shed and ``retry_for`` seconds have not passed."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    body = {"lines": lines}
    sent_at, started = time.time(), time.perf_counter()
    shed = 0
    while True:
        try:
            async with client.post(url, json=body, headers=headers) as response:
                answer = await response.json(content_type=None) if response.status == 202 else None
                pause = retry_after(response)
        except (aiohttp.ClientError, TimeoutError):
            return Placement(None, 0, sent_at, time.perf_counter() - started, shed)
        if response.status not in SHED_STATUSES:
            break
        shed += 1
        if time.perf_counter() + pause - started > retry_for:
            break
        await asyncio.sleep(pause)
    elapsed = time.perf_counter() - started
    order_id = str(answer["id"]) if answer is not None else None
    return Placement(order_id, response.status, sent_at, elapsed, shed)


def offered_rate(first_attempts: list[float]) -> float | None:
    """n orders evenly spaced span (n - 1) intervals."""
    if len(first_attempts) < 2:
        return None
    span = max(first_attempts) - min(first_attempts)
    return (len(first_attempts) - 1) / span if span > 0 else None


async def send_step(
    client: aiohttp.ClientSession,
    ordering_url: str,
    token: str,
    step: RateStep,
    books: list[str],
    rng: random.Random,
    *,
    retry_for: float = 30.0,
) -> Sent:
    url = f"{ordering_url}{ORDERS_PATH}"
    tasks: list[asyncio.Task[Placement]] = []
    worst = 0.0
    cpu_from, wall_from = time.process_time(), time.perf_counter()
    start = time.perf_counter()
    for offset in step.offsets():
        delay = start + offset - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            worst = max(worst, -delay)
        lines = order_lines(books, rng)
        tasks.append(asyncio.create_task(place(client, url, token, lines, retry_for=retry_for)))
    # CPU over the sending alone: the answers still due afterwards cost the generator little.
    cpu = 100 * (time.process_time() - cpu_from) / max(time.perf_counter() - wall_from, 1e-9)
    placements = list(await asyncio.gather(*tasks))
    offered = offered_rate([p.sent_at for p in placements])
    return Sent(placements, worst, offered, round(cpu, 1))
