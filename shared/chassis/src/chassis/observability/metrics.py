"""Prometheus metrics: HTTP requests, FastStream consumers and publishers, and the ``/metrics`` endpoint.

Everything registers in prometheus_client's default registry, where the chassis' own metrics (the outbox
relay's, for instance) already live, so one scrape of ``/metrics`` sees the whole process.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Response
from faststream.rabbit.prometheus import RabbitPrometheusMiddleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "folio_http_requests",
    "HTTP requests served, by method, route template and status code",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "folio_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Requests that matched no route are counted under one label, so random paths cannot explode the series.
UNMATCHED_ROUTE = "<unmatched>"
_UNMEASURED_PATHS = frozenset({"/metrics", "/health/live", "/health/ready"})


class HttpMetricsMiddleware:
    """Counts and times every request under its route template (``/api/v1/books/{book_id}``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _UNMEASURED_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            # The router fills in the matched route on this same scope while handling the request.
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            method = scope["method"]
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)


def render_metrics(registry: CollectorRegistry = REGISTRY) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def metrics_router(registry: CollectorRegistry = REGISTRY) -> APIRouter:
    """``GET /metrics`` in Prometheus' text format."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        return render_metrics(registry)

    return router


def broker_metrics_middleware(
    service: str, registry: CollectorRegistry = REGISTRY
) -> RabbitPrometheusMiddleware:
    """FastStream's Prometheus middleware: received/processed/published message counts and durations.

    Safe to build more than once: it reuses the collectors already in ``registry``.
    """
    return RabbitPrometheusMiddleware(registry=registry, app_name=service, metrics_prefix="folio_broker")
