"""The sender: places orders at the step's instants (open loop) and records how each POST went."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import httpx

from loadgenerator.schedule import RateStep

ORDERS_PATH = "/api/v1/orders"


@dataclass(frozen=True, slots=True)
class Placement:
    order_id: str | None  # None when the order was not accepted
    status: int  # HTTP status, 0 for a transport error
    sent_at: float  # epoch seconds
    seconds: float  # until the answer


@dataclass(frozen=True, slots=True)
class Sent:
    placements: list[Placement]
    worst_lateness: float  # seconds the sender fell behind its schedule, at worst


def order_lines(books: list[str], rng: random.Random, max_lines: int = 3) -> list[dict[str, object]]:
    """One to ``max_lines`` distinct books, one or two copies each."""
    chosen = rng.sample(books, rng.randint(1, min(max_lines, len(books))))
    return [{"book_id": book, "quantity": rng.randint(1, 2)} for book in chosen]


async def _place(
    client: httpx.AsyncClient, url: str, token: str, lines: list[dict[str, object]]
) -> Placement:
    sent_at, started = time.time(), time.perf_counter()
    try:
        response = await client.post(url, json={"lines": lines}, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError:
        return Placement(None, 0, sent_at, time.perf_counter() - started)
    elapsed = time.perf_counter() - started
    order_id = str(response.json()["id"]) if response.status_code == 202 else None
    return Placement(order_id, response.status_code, sent_at, elapsed)


async def send_step(
    client: httpx.AsyncClient,
    ordering_url: str,
    token: str,
    step: RateStep,
    books: list[str],
    rng: random.Random,
) -> Sent:
    url = f"{ordering_url}{ORDERS_PATH}"
    tasks: list[asyncio.Task[Placement]] = []
    worst = 0.0
    start = time.perf_counter()
    for offset in step.offsets():
        delay = start + offset - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            worst = max(worst, -delay)
        tasks.append(asyncio.create_task(_place(client, url, token, order_lines(books, rng))))
    placements = list(await asyncio.gather(*tasks))
    return Sent(placements, worst)
