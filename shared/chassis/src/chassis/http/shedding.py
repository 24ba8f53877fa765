"""Load shedding: a request the API cannot start in time is refused at once instead of queued without bound.

At most ``max_in_flight`` requests run at once; one more waits for a slot at most ``max_wait_seconds``, and
is then answered 503 with ``Retry-After`` and a problem body, before routing, authentication or any
handler, so a shed request has had no effect and a client that retries it (with the same
``Idempotency-Key``) loses nothing and gets one effect. Without the bound, past saturation every request
queues in the event loop and at the connection pool (30 s), latency grows with the backlog and most
answers come too late to matter: the throughput collapses instead of levelling off.

Probes and ``/metrics`` are never shed: an overloaded API is alive, and its readiness and figures are what
an operator needs most then.
"""

from __future__ import annotations

import asyncio

from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from chassis.http.problems import ProblemError

UNSHED_PATHS = frozenset({"/metrics", "/health/live", "/health/ready"})
OVERLOADED_TYPE = "https://folio.example/problems/overloaded"

SHED = Counter("folio_http_shed", "HTTP requests refused with 503 because the API was at its in-flight bound")


def overloaded(retry_after_seconds: int) -> ProblemError:
    return ProblemError(
        503,
        "Service Unavailable",
        "The service is at capacity and did not start this request; nothing was done. "
        f"Try again after {retry_after_seconds} s (with the same Idempotency-Key, if any).",
        type_=OVERLOADED_TYPE,
        headers={"Retry-After": str(retry_after_seconds)},
    )


class LoadShedder:
    def __init__(
        self, app: ASGIApp, *, max_in_flight: int, max_wait_seconds: float, retry_after_seconds: int
    ) -> None:
        if max_in_flight < 1 or max_wait_seconds < 0 or retry_after_seconds < 0:
            raise ValueError("max_in_flight must be positive, the wait and Retry-After not negative")
        self.app = app
        self.max_wait_seconds = max_wait_seconds
        self.retry_after_seconds = retry_after_seconds
        self._slots = asyncio.Semaphore(max_in_flight)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNSHED_PATHS:
            await self.app(scope, receive, send)
            return
        if not await self._take_slot():
            SHED.inc()
            problem = overloaded(self.retry_after_seconds)
            await problem.to_response(instance=scope["path"])(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._slots.release()

    async def _take_slot(self) -> bool:
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns without yielding
            return True
        try:
            # A waiter cancelled just after it was handed the slot passes it on (asyncio.Semaphore).
            async with asyncio.timeout(self.max_wait_seconds):
                await self._slots.acquire()
        except TimeoutError:
            return False
        return True
