"""What tracing costs a request and a delivery: without an exporter no span, only the caller's trace context
carried on; with one, exactly one server span per request (FastAPI's own telemetry, no second layer)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from chassis.observability import tracing
from chassis.observability.tracing import (
    ContinueTraceMiddleware,
    TraceContextMiddleware,
    api_telemetry,
    current_traceparent,
    instrument_app,
    telemetry_middleware,
)

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


def traced_app() -> tuple[FastAPI, list[str | None]]:
    """An app whose route records the traceparent current while it runs (what its outbox rows would get)."""
    seen: list[str | None] = []
    app = FastAPI(telemetry=api_telemetry())

    @app.get("/api/v1/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        seen.append(current_traceparent())
        return {"id": thing_id}

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    instrument_app(app)
    return app, seen


async def get(app: FastAPI, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://folio.test") as client:
        return await client.get(path, headers=headers)


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """The process as ``configure_tracing`` with an endpoint leaves it, with spans kept in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_provider", provider)
    monkeypatch.setattr(tracing, "_exporting", True)
    yield exporter
    provider.shutdown()


async def test_without_an_exporter_a_request_carries_the_callers_trace_on_without_a_span() -> None:
    app, seen = traced_app()

    continued = await get(app, "/api/v1/things/1", {"traceparent": TRACEPARENT})
    untraced = await get(app, "/api/v1/things/2")

    assert continued.status_code == untraced.status_code == 200
    assert seen[0] is not None
    assert seen[0].split("-")[1:3] == [TRACE_ID, PARENT_ID], "no span of its own"
    assert seen[1] is None, "no trace made up for a caller that sent none"


async def test_without_an_exporter_the_only_tracing_layer_is_the_context_one() -> None:
    app, _ = traced_app()
    await get(app, "/api/v1/things/1")

    layers = []
    layer: Any = app.middleware_stack
    while layer is not None:
        layers.append(type(layer).__module__)
        layer = getattr(layer, "app", None)
    assert "chassis.observability.tracing" in layers
    assert not [name for name in layers if name.startswith("opentelemetry")]
    assert not app._native_telemetry.enabled(), "FastAPI's own telemetry stays out of the way"


async def test_with_an_exporter_each_request_is_one_server_span_continuing_the_caller(
    exported: InMemorySpanExporter,
) -> None:
    app, seen = traced_app()

    response = await get(app, "/api/v1/things/7", {"traceparent": TRACEPARENT})
    await get(app, "/health/live")

    assert response.status_code == 200
    (span,) = exported.get_finished_spans()
    assert span.name == "GET /api/v1/things/{thing_id}"
    assert span.kind is SpanKind.SERVER
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 200
    assert span.parent is not None
    assert trace.format_span_id(span.parent.span_id) == PARENT_ID
    assert trace.format_trace_id(span.context.trace_id) == TRACE_ID
    assert seen[0] is not None
    assert seen[0].split("-")[2] == trace.format_span_id(span.context.span_id)
    added = [getattr(m.cls, "__name__", "") for m in app.user_middleware]
    assert TraceContextMiddleware.__name__ not in added


@dataclass
class Delivery:
    headers: dict[str, Any] = field(default_factory=dict)


async def consume(headers: dict[str, Any]) -> str | None:
    middleware = ContinueTraceMiddleware(None, context=None)  # type: ignore[arg-type]

    async def handler(_: Any) -> str | None:
        return current_traceparent()

    result: str | None = await middleware.consume_scope(handler, Delivery(headers))
    return result


async def test_without_an_exporter_a_delivery_carries_its_senders_trace_on_without_a_span() -> None:
    assert telemetry_middleware() is ContinueTraceMiddleware

    continued = await consume({"traceparent": TRACEPARENT})
    untraced = await consume({})

    assert continued is not None
    assert continued.split("-")[1:3] == [TRACE_ID, PARENT_ID]
    assert untraced is None
    assert current_traceparent() is None, "the delivery's context does not outlive it"


def test_with_an_exporter_deliveries_get_faststreams_consumer_spans(exported: InMemorySpanExporter) -> None:
    assert telemetry_middleware() is not ContinueTraceMiddleware


def test_without_an_exporter_a_relayed_row_keeps_its_trace_context_and_no_span_is_made() -> None:
    headers = {"traceparent": TRACEPARENT, "tracestate": "folio=1", "id": "m-1", "type": "folio.test.v1"}

    with tracing.publish_span(headers, "folio.test", "test.happened") as sent:
        inside = trace.get_current_span()

    assert sent == headers
    assert sent is not headers, "the row's own headers are not handed to the broker client to keep"
    assert not inside.get_span_context().is_valid, "no span made current"
