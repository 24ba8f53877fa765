"""Load shedding: a request the API cannot start or finish in time is refused at once instead of queued
without bound.

At most ``max_in_flight`` requests run at once; one more waits for a slot at most ``max_wait_seconds``, and
is then answered 503 with ``Retry-After`` and a problem body, before routing, authentication or any
handler, so a shed request has had no effect and a client that retries it (with the same
``Idempotency-Key``) loses nothing and gets one effect. Without the bound, past saturation every request
queues in the event loop and at the connection pool, latency grows with the backlog and most answers come
too late to matter: the throughput collapses instead of levelling off.

A request that got a slot but waits for a database connection longer than the API's pool timeout
(``http_pool_timeout_seconds``, a second, not the pool's 30 s) is answered the same 503 (see
:func:`pool_exhausted`): its transaction never began, so with its ``Idempotency-Key`` it too is retried
with one effect.

Fair share: while every slot is taken and more than one client is in flight, a client already holding its
share of the slots (``max_in_flight`` divided among the clients in flight) is answered 429 with
``Retry-After`` at once, instead of waiting for a slot another client needs; a client below its share waits
as before. A client is its bearer token (the ``Authorization`` header as sent: checking it is left to the
routes, so a forged one only ever gets its own share and then a 401), else its address (uvicorn takes it
from ``X-Forwarded-For`` behind a trusted proxy). A client alone may still take every slot.

How long to wait: the ``Retry-After`` of a shed request (503 or 429) is the configured one when shedding
begins and grows by a second for every second it lasts, up to a cap (:class:`ShedRetryAfter`). With a
fixed second, every shed order came back each second to be shed again, and under a sustained overload the
refusals (and the client's retries) took the CPU the accepted orders needed; a growing pause keeps the
clients that wait from outnumbering what the API can take.

Probes and ``/metrics`` are never shed: an overloaded API is alive, and its readiness and figures are what
an operator needs most then.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import sqlalchemy.exc
from fastapi import FastAPI, Request
from prometheus_client import Counter
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from chassis.http.problems import ProblemError
from chassis.settings import ServiceSettings

UNSHED_PATHS = frozenset({"/metrics", "/health/live", "/health/ready"})
OVERLOADED_TYPE = "https://folio.example/problems/overloaded"
OVER_FAIR_SHARE_TYPE = "https://folio.example/problems/over-fair-share"

SHED = Counter("folio_http_shed", "HTTP requests refused with 503 because the API was at its in-flight bound")
POOL_EXHAUSTED = Counter(
    "folio_http_pool_exhausted",
    "HTTP requests refused with 503 because no database connection came free within the pool timeout",
)
OVER_FAIR_SHARE = Counter(
    "folio_http_over_fair_share",
    "HTTP requests refused with 429 because their client held its share of a full API's slots",
)


def overloaded(retry_after_seconds: int, detail: str | None = None) -> ProblemError:
    """The 503 of a request refused for the service's capacity; ``detail`` says why, when not the slots."""
    return ProblemError(
        503,
        "Service Unavailable",
        (detail or "The service is at capacity and did not start this request; nothing was done.")
        + f" Try again after {retry_after_seconds} s (with the same Idempotency-Key, if any).",
        type_=OVERLOADED_TYPE,
        headers={"Retry-After": str(retry_after_seconds)},
    )


def over_fair_share(retry_after_seconds: int) -> ProblemError:
    return ProblemError(
        429,
        "Too Many Requests",
        "The service is at capacity and this client already has its share of the requests in progress; "
        f"nothing was done. Try again after {retry_after_seconds} s (with the same Idempotency-Key, if any).",
        type_=OVER_FAIR_SHARE_TYPE,
        headers={"Retry-After": str(retry_after_seconds)},
    )


def answer_pool_exhaustion(app: FastAPI, retry_after_seconds: int) -> None:
    """Answer a request that timed out waiting for a pooled connection 503 with ``Retry-After``."""
    app.add_exception_handler(sqlalchemy.exc.TimeoutError, pool_exhausted(retry_after_seconds))


def pool_exhausted(retry_after_seconds: int) -> Callable[[Request, Exception], Awaitable[Response]]:
    """The handler of ``sqlalchemy.exc.TimeoutError`` (the pool's, raised as no connection came free)."""

    async def answer(request: Request, exc: Exception) -> Response:
        POOL_EXHAUSTED.inc()
        problem = ProblemError(
            503,
            "Service Unavailable",
            "The service is at capacity and could not reach its database in time; its transaction never "
            f"began. Try again after {retry_after_seconds} s (with the same Idempotency-Key, if any).",
            type_=OVERLOADED_TYPE,
            headers={"Retry-After": str(retry_after_seconds)},
        )
        return problem.to_response(instance=request.url.path)

    return answer


def client_of(scope: Scope) -> bytes:
    """Who is asking, for the fair share: the bearer token as sent, else the client's address."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value)
    client = scope.get("client")
    return client[0].encode() if client else b""


class ShedRetryAfter:
    """The ``Retry-After`` for the next shed request: ``base`` seconds when shedding begins, a second more
    for every second it has lasted, at most ``cap``. Shedding is over once no request was shed for as long
    as the last one was told to wait (a second at least): by then every client told to wait has had its
    turn."""

    def __init__(self, base: int, cap: int, clock: Callable[[], float] = time.monotonic) -> None:
        if base < 0 or cap < base:
            raise ValueError("Retry-After must not be negative, nor its cap below it")
        self.base = base
        self.cap = cap
        self._clock = clock
        self._since: float | None = None  # when the current shedding began
        self._last = 0.0  # when a request was last shed
        self._told = base  # what it was told

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> ShedRetryAfter:
        return cls(settings.http_shed_retry_after_seconds, settings.http_shed_retry_after_max_seconds)

    def next(self) -> int:
        now = self._clock()
        if self._since is None or now - self._last > max(self._told, 1):
            self._since = now
        self._last = now
        self._told = min(self.cap, self.base + int(now - self._since))
        return self._told


class LoadShedder:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_in_flight: int,
        max_wait_seconds: float,
        retry_after: ShedRetryAfter,
    ) -> None:
        if max_in_flight < 1 or max_wait_seconds < 0:
            raise ValueError("max_in_flight must be positive and the wait not negative")
        self.app = app
        self.max_in_flight = max_in_flight
        self.max_wait_seconds = max_wait_seconds
        self.retry_after = retry_after
        self._slots = asyncio.Semaphore(max_in_flight)
        # Slots held, by client; only clients with a request in flight are here.
        self._held: dict[bytes, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNSHED_PATHS:
            await self.app(scope, receive, send)
            return
        client = client_of(scope)
        if self._slots.locked() and self._over_fair_share(client):
            OVER_FAIR_SHARE.inc()
            problem = over_fair_share(self.retry_after.next())
            await problem.to_response(instance=scope["path"])(scope, receive, send)
            return
        if not await self._take_slot():
            SHED.inc()
            problem = overloaded(self.retry_after.next())
            await problem.to_response(instance=scope["path"])(scope, receive, send)
            return
        self._held[client] = self._held.get(client, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._slots.release()
            if self._held[client] == 1:
                del self._held[client]
            else:
                self._held[client] -= 1

    def _over_fair_share(self, client: bytes) -> bool:
        """True when others are in flight too and ``client`` holds its share of the slots already."""
        held = self._held.get(client, 0)
        clients = len(self._held) + (0 if held else 1)
        if clients < 2:
            return False
        return held >= max(1, self.max_in_flight // clients)

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
