"""The generator's own ceiling: the sender at a few rates against a trivial local HTTP server.

What it offers there, and the CPU it spends doing so, is the most it can offer any Folio from this
machine: a step of the benchmark near that rate measures the generator, not the system.
"""

from __future__ import annotations

import asyncio
import random
import socket
import sys

import aiohttp

from loadgenerator.client import http_client
from loadgenerator.orders import send_step
from loadgenerator.schedule import RateStep
from loadgenerator.stats import percentile

BOOKS = [f"book-{i}" for i in range(10)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _wait_listening(client: aiohttp.ClientSession, url: str, within: float = 30.0) -> None:
    for _ in range(int(within / 0.1)):
        try:
            async with client.get(url):
                return
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the trivial server at {url} did not answer within {within:g}s")


async def generator_ceiling(rates: list[float], seconds: float) -> list[dict[str, float]]:
    """One trial per rate: asked, offered (first attempts per second), CPU % of one core, POST ms."""
    port = _free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loadgenerator.trivial_server", str(port)
    )
    url = f"http://127.0.0.1:{port}"
    trials = []
    try:
        async with http_client() as client:
            await _wait_listening(client, url)
            rng = random.Random(1)
            for rate in rates:
                sent = await send_step(client, url, "unused", RateStep(rate, seconds), BOOKS, rng)
                posts = [p.seconds * 1000 for p in sent.placements]
                trials.append(
                    {
                        "rate": rate,
                        "offered_per_s": sent.offered_per_s or 0.0,
                        "cpu_percent": sent.cpu_percent or 0.0,
                        "post_p50_ms": percentile(posts, 50),
                        "post_p99_ms": percentile(posts, 99),
                        "failed": float(sum(1 for p in sent.placements if p.status != 202)),
                    }
                )
    finally:
        server.terminate()
        await server.wait()
    return trials
