"""Readiness answers 200 only when every check passes, and its body names each check and its failure."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from chassis.health import HealthChecks, health_router
from chassis.migrations import MigrationScripts, MigrationState


async def passing() -> str | None:
    return None


async def with_detail() -> str | None:
    return "at_head"


async def failing() -> str | None:
    raise ConnectionRefusedError("connection refused\nmore lines nobody needs")


async def hanging() -> str | None:
    await asyncio.sleep(30)
    return None


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_all_passing_is_ready() -> None:
    report = await HealthChecks({"database": passing, "migrations": with_detail}).run()

    assert report.ok
    assert report.as_json()["status"] == "pass"
    assert report.as_json()["checks"][1]["detail"] == "at_head"


async def test_a_failing_and_a_hanging_check_are_named_with_their_errors() -> None:
    checks = HealthChecks({"database": passing, "broker": failing, "migrations": hanging}, timeout=0.2)

    body = (await checks.run()).as_json()

    assert body["status"] == "fail"
    by_name = {check["name"]: check for check in body["checks"]}
    assert by_name["database"]["status"] == "pass"
    assert by_name["broker"] == {
        "name": "broker",
        "status": "fail",
        "duration_ms": by_name["broker"]["duration_ms"],
        "error": "ConnectionRefusedError: connection refused",
    }
    assert by_name["migrations"]["status"] == "fail"
    assert by_name["migrations"]["error"] == "timed out after 0.2s"


async def test_checks_run_concurrently() -> None:
    async def slow() -> str | None:
        await asyncio.sleep(0.3)
        return None

    loop = asyncio.get_running_loop()
    started = loop.time()
    await HealthChecks({"a": slow, "b": slow, "c": slow}).run()

    assert loop.time() - started < 0.8


async def test_the_endpoints_answer_200_or_503_with_the_report() -> None:
    app = FastAPI()
    app.include_router(health_router(info={"service": "catalog"}))
    async with client_for(app) as client:
        live = await client.get("/health/live")
        not_started = await client.get("/health/ready")
        app.state.health = HealthChecks({"database": passing})
        ready = await client.get("/health/ready")
        app.state.health.add("broker", failing)
        failing_ready = await client.get("/health/ready")

    assert live.status_code == 200
    assert live.json() == {"status": "pass", "service": "catalog"}
    assert not_started.status_code == 503
    assert ready.status_code == 200
    assert ready.json()["checks"][0]["name"] == "database"
    assert failing_ready.status_code == 503
    assert [c["status"] for c in failing_ready.json()["checks"]] == ["pass", "fail"]


@pytest.mark.parametrize(
    ("current", "state"),
    [
        (("r2",), MigrationState.AT_HEAD),
        (("r1",), MigrationState.BEHIND),
        ((), MigrationState.BEHIND),
        (("r9",), MigrationState.AHEAD),
    ],
)
def test_migration_state(current: tuple[str, ...], state: MigrationState) -> None:
    scripts = MigrationScripts(heads=frozenset({"r2"}), known=frozenset({"r1", "r2"}))

    assert scripts.state_of(current) is state


def test_a_revision_brings_the_heads_it_depends_on() -> None:
    # A service's 0001 depends on chassis_0001; alembic_version then records only 0001.
    scripts = MigrationScripts(
        heads=frozenset({"0001", "chassis_0001"}),
        known=frozenset({"0001", "chassis_0001"}),
        applied_with={
            "0001": frozenset({"0001", "chassis_0001"}),
            "chassis_0001": frozenset({"chassis_0001"}),
        },
    )

    assert scripts.state_of(("0001",)) is MigrationState.AT_HEAD
    assert scripts.state_of(("0001", "chassis_0001")) is MigrationState.AT_HEAD
    assert scripts.state_of(("chassis_0001",)) is MigrationState.BEHIND
