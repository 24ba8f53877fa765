"""The embedded HTTP server wakes once a second at rest, keeps its Date header fresh and stops at once."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from chassis.runner import serve_http
from testkit.ports import free_port


async def test_at_rest_the_server_ticks_once_a_second_and_stops_as_soon_as_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticks: list[int] = []
    on_tick = uvicorn.Server.on_tick

    async def counted(server: uvicorn.Server, counter: int) -> bool:
        ticks.append(counter)
        return await on_tick(server, counter)

    monkeypatch.setattr(uvicorn.Server, "on_tick", counted)
    port, stop = free_port(), asyncio.Event()
    serving = asyncio.create_task(serve_http(FastAPI(), host="127.0.0.1", port=port, stop=stop, name="test"))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(100):
            try:
                first = await client.get("/nowhere")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.05)
        await asyncio.sleep(2.2)
        later = await client.get("/nowhere")

    loop = asyncio.get_running_loop()
    stop.set()
    asked = loop.time()
    await serving
    stopped_after = loop.time() - asked

    # uvicorn's own loop ticks ten times a second; this one once, plus the tick that sees the stop.
    assert 2 <= len(ticks) <= 5, ticks
    assert all(counter % 10 == 0 for counter in ticks), "every tick refreshes the Date header"
    assert first.headers["date"] != later.headers["date"], "the Date header moves on"
    assert stopped_after < 0.5
