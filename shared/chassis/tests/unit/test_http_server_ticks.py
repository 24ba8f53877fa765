"""The embedded HTTP server does not wake at rest, dates every response as it is sent and stops at once."""

from __future__ import annotations

import asyncio
import time
from email.utils import parsedate_to_datetime

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from chassis.runner import serve_http
from testkit.ports import free_port


async def test_at_rest_the_server_sleeps_until_asked_and_stops_as_soon_as_told(
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
        ticks_at_rest = len(ticks)
        later = await client.get("/nowhere")
        dated_at = time.time()

    loop = asyncio.get_running_loop()
    stop.set()
    asked = loop.time()
    await serving
    stopped_after = loop.time() - asked

    # uvicorn's own loop ticks ten times a second; this one once to start, once more to see the stop.
    assert ticks_at_rest == 1, ticks
    assert len(ticks) == 2, ticks
    assert first.headers.get_list("date") == [first.headers["date"]], "one Date header"
    assert first.headers["date"] != later.headers["date"], "the Date header moves on"
    assert abs(parsedate_to_datetime(later.headers["date"]).timestamp() - dated_at) < 2
    assert first.headers["server"] == "uvicorn", "uvicorn's other default headers stay"
    assert stopped_after < 0.5
