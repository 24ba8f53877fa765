"""``main(definition)`` as a real process: the migrate role, and the all role stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from chassis.migrations import is_at_head
from testkit.polling import eventually
from testkit.ports import free_port

pytestmark = pytest.mark.integration

SERVICE_MAIN = Path(__file__).parent / "runner_service" / "service_main.py"
SCRIPTS = Path(__file__).parent / "alembic_scripts"


def environment(database_url: str, amqp_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "RUNNERTEST_DATABASE_URL": database_url,
        "RUNNERTEST_AMQP_URL": amqp_url,
        "RUNNERTEST_HTTP_PORT": str(port),
        "RUNNERTEST_LOG_JSON": "true",
    }


async def start(role: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(SERVICE_MAIN),
        role,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def output_of(process: asyncio.subprocess.Process, within: float) -> bytes:
    """Wait for ``process`` to exit and return its output; kill it if it overruns, so no test leaves it behind
    still connected to a database that is about to be dropped."""
    try:
        output, _ = await asyncio.wait_for(process.communicate(), within)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return output


async def wait_until_ready(port: int, process: asyncio.subprocess.Process, within: float = 40) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as http:

        async def ready() -> bool:
            # Not an AssertionError: a dead process fails the wait at once instead of being polled.
            if process.returncode is not None:
                raise RuntimeError("the process died before it was ready")
            try:
                return (await http.get("/health/ready")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(ready, within=within, interval=0.3, what=f"ready on port {port}")


def json_lines(output: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.decode().splitlines() if line.startswith("{")]


async def test_the_migrate_role_upgrades_and_exits(database_url: str, amqp_url: str) -> None:
    process = await start("migrate", environment(database_url, amqp_url, free_port()))
    output = await output_of(process, 60)

    assert process.returncode == 0, output.decode()
    assert await is_at_head(SCRIPTS, database_url)
    assert any(line.get("service") == "runnertest" for line in json_lines(output))
    assert any(line.get("message") == "runnertest migrate running on uvloop" for line in json_lines(output))


async def test_uvloop_can_be_turned_off(database_url: str, amqp_url: str) -> None:
    env = {**environment(database_url, amqp_url, free_port()), "RUNNERTEST_UVLOOP": "false"}
    process = await start("migrate", env)
    output = await output_of(process, 60)

    assert process.returncode == 0, output.decode()
    assert any(line.get("message") == "runnertest migrate running on asyncio" for line in json_lines(output))


async def test_the_all_role_serves_then_stops_cleanly_on_sigterm(database_url: str, amqp_url: str) -> None:
    port = free_port()
    process = await start("all", environment(database_url, amqp_url, port))
    try:
        await wait_until_ready(port, process)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            hello = await http.get("/api/v1/hello")
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 40)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert hello.json() == {"hello": "world"}
    assert process.returncode == 0, output.decode()
    lines = json_lines(output)
    messages = [str(line.get("message")) for line in lines]
    assert "runnertest all running on uvloop" in messages
    assert any("SIGTERM received" in message for message in messages)
    assert not [line for line in lines if line.get("logger") == "uvicorn.access"], "no access log by default"
    assert any("outbox relay stopped" in message for message in messages)
    assert not [line for line in lines if line.get("level") in ("ERROR", "CRITICAL")], output.decode()


async def test_an_unknown_role_is_refused(database_url: str, amqp_url: str) -> None:
    process = await start("dance", environment(database_url, amqp_url, free_port()))
    output = await output_of(process, 30)

    assert process.returncode == 2
    assert b"invalid choice" in output
