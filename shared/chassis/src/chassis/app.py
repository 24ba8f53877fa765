"""The FastAPI app factory: every service's API is built, started and stopped the same way.

``create_api(definition, settings)`` gives an app whose lifespan opens the database engine and puts the
shared objects on ``app.state`` (``settings``, ``session_factory``, ``uow_factory``, ``token_verifier``,
``resources``, ``health``), with problem details for every error, the request guard (body limit, JSON
bodies, storable URLs, HEAD), load shedding (503 past the requests in flight it can take in time or a
database connection not free within ``http_pool_timeout_seconds``, 429 past a client's fair share),
``/health/live``, ``/health/ready`` (database and migrations: never the broker), ``/metrics``, tracing,
request ids, and the OpenAPI document, problems and security included, at ``/api/v1/openapi.json``.
Routers get a unit of work per request from :data:`UnitOfWorkDep` (or a narrower :func:`uow_dependency`).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, TypeVar

from fastapi import Depends, FastAPI, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chassis.auth.verifier import TokenVerifier
from chassis.definition import AppResources, Resources, S, ServiceDefinition
from chassis.health import HealthChecks, database_check, health_router, migrations_check
from chassis.http.guard import RequestGuard
from chassis.http.openapi import document_api
from chassis.http.problems import install_problem_handlers
from chassis.http.shedding import LoadShedder, ShedRetryAfter, answer_pool_exhaustion
from chassis.lifecycle import open_resources
from chassis.observability.logging import bound_request_id
from chassis.observability.metrics import HttpMetricsMiddleware, metrics_router
from chassis.observability.tracing import api_telemetry, instrument_app
from chassis.uow import UnitOfWork

U = TypeVar("U", bound=UnitOfWork)

API_PREFIX = "/api/v1"
REQUEST_ID_HEADER = "X-Request-ID"
# A caller's request id is echoed and logged, so it must be short and printable.
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class RequestIdMiddleware:
    """Takes the caller's ``X-Request-ID`` (or makes one), logs under it and returns it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = next(
            (value.decode("latin-1") for name, value in scope["headers"] if name == b"x-request-id"), ""
        )
        request_id = offered if _ACCEPTABLE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with bound_request_id(request_id):
            await self.app(scope, receive, send_with_id)


def create_api(definition: ServiceDefinition[S, U], settings: S | None = None) -> FastAPI:
    """The service's FastAPI app; nothing connects until its lifespan starts."""
    settings = settings if settings is not None else definition.settings_factory()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        # A short pool timeout: a request past it is answered 503 at once (chassis.http.shedding).
        pool_timeout = settings.http_pool_timeout_seconds
        async with open_resources(definition, settings, stop, pool_timeout=pool_timeout) as resources:
            app.state.resources = resources
            app.state.engine = resources.engine
            app.state.session_factory = resources.session_factory
            app.state.uow_factory = resources.uow_factory
            # No broker check: the API writes to its outbox and takes orders while the broker is away.
            app.state.health = HealthChecks(
                {
                    "database": database_check(resources.engine),
                    "migrations": migrations_check(resources.engine, definition.migrations_dir),
                }
            )
            try:
                yield
            finally:
                stop.set()

    app = FastAPI(
        title=definition.title or f"Folio {definition.name}",
        description=definition.description or "",
        version=definition.version,
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        # A redirect would build its Location from the Host header; an unknown path is a 404 problem.
        redirect_slashes=False,
        telemetry=api_telemetry(),
    )
    # Cheap and offline, so available even to tests that never run the lifespan.
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier.from_settings(settings)

    install_problem_handlers(app)
    answer_pool_exhaustion(app, settings.http_shed_retry_after_seconds)
    # Outside the problem handlers' catch-all: refusals happen before anything is parsed or authenticated.
    app.add_middleware(RequestGuard, max_body_bytes=settings.http_max_body_bytes)
    app.add_middleware(
        LoadShedder,
        max_in_flight=settings.http_max_in_flight,
        max_wait_seconds=settings.http_max_wait_seconds,
        retry_after=ShedRetryAfter.from_settings(settings),
    )
    app.include_router(health_router(info={"service": definition.name, "version": definition.version}))
    app.include_router(metrics_router())
    for router in definition.api_routers():
        app.include_router(router)
    document_api(app)
    # Added last, so outermost: they see every request, including those the problem handlers answer.
    app.add_middleware(HttpMetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)
    instrument_app(app)
    return app


def app_resources(request: Request) -> Resources:
    resources = getattr(request.app.state, "resources", None)
    if not isinstance(resources, AppResources):
        raise RuntimeError("app.state.resources is not set: the app's lifespan has not started")
    return resources


# The dependencies here are coroutines although they do not await: FastAPI runs a plain function dependency
# in a worker thread, a hand-off that cost more than the function itself on every request.


async def get_uow(request: Request) -> UnitOfWork:
    """A fresh (not yet entered) unit of work for this request: ``async with uow: ...``."""
    return app_resources(request).uow_factory()


UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_uow)]


def new_uow(request: Request, uow_type: type[U]) -> U:
    """A fresh unit of work of the service's own type (a route that retries makes one per attempt)."""
    uow = app_resources(request).uow_factory()
    if not isinstance(uow, uow_type):
        raise TypeError(f"the service's uow_factory builds {type(uow).__name__}, not {uow_type.__name__}")
    return uow


def uow_dependency(uow_type: type[U]) -> Callable[[Request], Awaitable[U]]:
    """A dependency giving the service's own unit-of-work type, for ``Annotated[MyUow, Depends(...)]``."""

    async def get_typed_uow(request: Request) -> U:
        return new_uow(request, uow_type)

    return get_typed_uow
