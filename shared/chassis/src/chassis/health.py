"""Kubernetes probes: ``/health/live`` (the process answers) and ``/health/ready`` (it can do its work).

An API is ready with its database reachable and migrated: it takes commands into its outbox whether or
not the broker is there (that is what the outbox is for), so a broker outage must not stall a rollout.
A worker is ready when it also holds a broker connection that answers a round trip.

Readiness runs every check at once, each under a timeout, and answers 200 when all pass, 503 otherwise;
either way the JSON body lists each check, for example::

    {"status": "fail", "checks": [
        {"name": "database", "status": "pass", "duration_ms": 1.9},
        {"name": "broker", "status": "fail", "duration_ms": 2000.4, "error": "timed out after 2.0s"},
        {"name": "migrations", "status": "pass", "duration_ms": 3.1, "detail": "at_head"}]}
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aio_pika.abc import AbstractConnection
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.migrations import MigrationScripts, MigrationState, migration_state

# A check returns an optional detail for the body, and raises when it fails.
HealthCheck = Callable[[], Awaitable[str | None]]

DEFAULT_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    duration_ms: float
    detail: str | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "status": "pass" if self.ok else "fail",
            "duration_ms": round(self.duration_ms, 1),
        }
        if self.detail is not None:
            body["detail"] = self.detail
        if self.error is not None:
            body["error"] = self.error
        return body


@dataclass(frozen=True, slots=True)
class HealthReport:
    checks: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {"status": "pass" if self.ok else "fail", "checks": [c.as_json() for c in self.checks]}


@dataclass
class HealthChecks:
    """The readiness checks of one process, by name."""

    checks: dict[str, HealthCheck] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT

    def add(self, name: str, check: HealthCheck) -> None:
        self.checks[name] = check

    async def run(self) -> HealthReport:
        results = await asyncio.gather(*(self._run_one(name, check) for name, check in self.checks.items()))
        return HealthReport(tuple(results))

    async def _run_one(self, name: str, check: HealthCheck) -> CheckResult:
        started = time.perf_counter()
        try:
            detail = await asyncio.wait_for(check(), self.timeout)
        except TimeoutError:
            return CheckResult(name, False, _ms_since(started), error=f"timed out after {self.timeout}s")
        except Exception as error:
            return CheckResult(name, False, _ms_since(started), error=_describe(error))
        return CheckResult(name, True, _ms_since(started), detail=detail)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _describe(error: BaseException) -> str:
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def database_check(engine: AsyncEngine) -> HealthCheck:
    async def check() -> str | None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return None

    return check


def migrations_check(engine: AsyncEngine, script_location: str | Path) -> HealthCheck:
    """Passes when the database is at this build's head, or ahead of it during a rolling upgrade."""
    scripts = MigrationScripts.load(script_location)

    async def check() -> str | None:
        state = await migration_state(engine, scripts)
        if state is MigrationState.BEHIND:
            raise RuntimeError(f"database is behind the migration head(s) {', '.join(sorted(scripts.heads))}")
        return state.value

    return check


def broker_check(connection: Callable[[], AbstractConnection | None], exchange: str) -> HealthCheck:
    """Passes when the worker's broker connection answers a round trip (a channel and a passive declare).

    A connection object can look open while the broker is gone (stopped, partitioned, frozen): only a
    round trip, under the readiness timeout, tells. ``exchange`` is one the service declared at start.
    """

    async def check() -> str | None:
        current = connection()
        if current is None or current.is_closed:
            raise ConnectionError("not connected to the broker")
        channel = await current.channel(publisher_confirms=False)
        try:
            await channel.declare_exchange(exchange, passive=True)
        finally:
            await channel.close()
        return None

    return check


def health_router(
    checks: Callable[[Request], HealthChecks | None] | None = None,
    *,
    info: Mapping[str, str] | None = None,
) -> APIRouter:
    """``/health/live`` and ``/health/ready``; the checks come from ``app.state.health`` unless given.

    Until the app's lifespan has set up its checks, readiness answers 503.
    """
    router = APIRouter(prefix="/health", tags=["health"])
    about = dict(info or {})

    def find_checks(request: Request) -> HealthChecks | None:
        if checks is not None:
            return checks(request)
        found: HealthChecks | None = getattr(request.app.state, "health", None)
        return found

    @router.get("/live", summary="The process is up")
    async def live() -> dict[str, Any]:
        return {"status": "pass", **about}

    @router.get("/ready", summary="What this process needs to do its work is there")
    async def ready(request: Request) -> JSONResponse:
        found = find_checks(request)
        if found is None:
            return JSONResponse({"status": "fail", "checks": [], **about}, status_code=503)
        report = await found.run()
        return JSONResponse({**report.as_json(), **about}, status_code=200 if report.ok else 503)

    return router
