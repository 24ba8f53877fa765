"""OpenTelemetry tracing: one tracer provider per process, and the instrumentation each role needs.

With an OTLP endpoint, spans are recorded and exported: one server span per request (FastAPI's own
telemetry, the only HTTP layer), one consumer span per delivery (FastStream's), a producer span per
relayed outbox row, and a span per statement. The relay publishes each row under a span of its own, child
of the trace the row was written in, and sends that span's ``traceparent``: one trace runs request,
publish, handler, publish, handler, across every process. Work a handler leaves for later (an e-mail the
sender hands over) keeps the handler's ``traceparent`` (``current_traceparent``) and runs in a span
continuing it (``continued_span``).

Without one, no span is made at all: each request and delivery only makes its caller's ``traceparent``
current (:class:`TraceContextMiddleware`, :class:`ContinueTraceMiddleware`), so the trace still travels
into the outbox rows it causes and on to the consumers, and its id into the logs, at the cost of reading one
header. Profiles showed recording spans nobody exports at a tenth of an API's CPU and a twentieth of a
worker's, and tracing every statement (once by SQLAlchemy's and again by asyncpg's instrumentation) at
about a tenth of a worker's.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from faststream import BaseMiddleware
from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware
from faststream.types import AsyncFuncAny
from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.sqlalchemy.version import __version__ as sqlalchemy_instrumentation_version
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.semconv.metrics import MetricInstruments
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.envelope import CORRELATION_ID, ID, TRACEPARENT, TRACESTATE, TYPE

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("chassis.outbox")

# Probes and scrapes arrive every few seconds and would drown the traces that matter.
UNTRACED_PATHS = frozenset({"/health/live", "/health/ready", "/metrics"})
_TRACE_CONTEXT = TraceContextTextMapPropagator()
_TRACEPARENT_HEADER = TRACEPARENT.encode()

_provider: TracerProvider | None = None
# Whether spans leave the process; statement spans are skipped when they would not.
_exporting = False
_traced_engines: weakref.WeakSet[Any] = weakref.WeakSet()


def configure_tracing(
    service_name: str, otlp_endpoint: str | None = None, *, version: str | None = None
) -> TracerProvider | None:
    """Install the process's tracer provider when spans are exported (the first call wins).

    ``otlp_endpoint`` is the collector's base URL (``http://collector:4318``); spans go to its
    ``/v1/traces`` over OTLP/HTTP. Statements are traced through SQLAlchemy (``instrument_engine``) only.
    Without an endpoint nothing is installed and None returned: trace context is carried on, no span made.
    """
    global _provider, _exporting
    if _provider is not None or not otlp_endpoint:
        log.info("tracing configured", extra={"otlp_endpoint": otlp_endpoint or None})
        return _provider
    attributes = {"service.name": service_name}
    if version:
        attributes["service.version"] = version
    provider = TracerProvider(resource=Resource.create(attributes))
    endpoint = otlp_endpoint.rstrip("/")
    if not endpoint.endswith("/v1/traces"):
        endpoint += "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    _exporting = True
    trace.set_tracer_provider(provider)
    _provider = provider
    log.info("tracing configured", extra={"otlp_endpoint": otlp_endpoint})
    return provider


def shutdown_tracing() -> None:
    """Flush the spans still buffered (at process exit)."""
    if _provider is not None:
        _provider.shutdown()


def tracer_provider() -> trace.TracerProvider:
    return _provider or trace.get_tracer_provider()


def exporting() -> bool:
    """Whether this process records and exports spans (``configure_tracing`` was given an endpoint)."""
    return _exporting


def api_telemetry() -> TelemetryConfig:
    """``FastAPI(telemetry=...)``: a server span per request, continuing the caller's ``traceparent``,
    when spans are exported; nothing otherwise (see :func:`instrument_app`). Metrics are Folio's own
    (``chassis.observability.metrics``) and errors are logged, so FastAPI's metrics and log events stay
    off, as do its spans around dependencies and serialisation.
    """
    return {
        "tracing": _exporting,
        "tracer_provider": _provider,
        "metrics": False,
        "logs": False,
        "operation_spans": False,
        "auto_configure": False,
        "exclude": lambda scope: scope.get("path") in UNTRACED_PATHS,
    }


def instrument_app(app: FastAPI) -> None:
    """Without exported spans, make each request's ``traceparent`` current (FastAPI's telemetry, set up by
    :func:`api_telemetry`, does it otherwise)."""
    if not _exporting:
        app.add_middleware(TraceContextMiddleware)


class TraceContextMiddleware:
    """The caller's trace context made current for the request, no span made: what carries a trace on
    when spans are not exported. Requests without ``traceparent`` pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        traceparent = None
        if scope["type"] == "http":
            traceparent = next((v for k, v in scope["headers"] if k == _TRACEPARENT_HEADER), None)
        if traceparent is None:
            await self.app(scope, receive, send)
            return
        carrier = {TRACEPARENT: traceparent.decode("latin-1")}
        state = next((v for k, v in scope["headers"] if k == b"tracestate"), None)
        if state is not None:
            carrier[TRACESTATE] = state.decode("latin-1")
        token = otel_context.attach(_TRACE_CONTEXT.extract(carrier))
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)


def instrument_engine(engine: AsyncEngine) -> None:
    """A span per statement on ``engine`` once tracing exports spans; harmless to repeat for one engine."""
    sync_engine = engine.sync_engine
    if _provider is None or not _exporting or sync_engine in _traced_engines:
        return
    # SQLAlchemyInstrumentor is a process singleton that instruments only the first engine handed to it;
    # the EngineTracer it builds for that engine is what every further engine needs as well.
    tracer = trace.get_tracer(
        "opentelemetry.instrumentation.sqlalchemy", sqlalchemy_instrumentation_version, tracer_provider()
    )
    connections_usage = metrics.get_meter(
        "opentelemetry.instrumentation.sqlalchemy", sqlalchemy_instrumentation_version
    ).create_up_down_counter(
        name=MetricInstruments.DB_CLIENT_CONNECTIONS_USAGE,
        unit="connections",
        description="The number of connections that are currently in state described by the state attribute.",
    )
    EngineTracer(tracer, sync_engine, connections_usage)  # type: ignore[no-untyped-call]
    _traced_engines.add(sync_engine)


def telemetry_middleware() -> RabbitTelemetryMiddleware | type[ContinueTraceMiddleware]:
    """The broker's tracing middleware: FastStream's (a consumer span per delivery, child of the message's
    ``traceparent``) when spans are exported, else :class:`ContinueTraceMiddleware`.

    Add it to the broker as its outermost middleware so the span covers retries, parking and the handler:
    ``broker.insert_middleware(telemetry_middleware())`` (or ``RabbitBroker(middlewares=[...])`` first).
    """
    if not _exporting:
        return ContinueTraceMiddleware
    return RabbitTelemetryMiddleware(tracer_provider=tracer_provider())


class ContinueTraceMiddleware(BaseMiddleware):
    """The delivery's trace context (its ``traceparent`` header) made current while it is handled, no span
    made: the handler's outbox rows and logs carry the sender's trace on."""

    async def consume_scope(self, call_next: AsyncFuncAny, msg: Any) -> Any:
        headers = msg.headers
        if not headers.get(TRACEPARENT):
            return await call_next(msg)
        token = otel_context.attach(_TRACE_CONTEXT.extract(headers))
        try:
            return await call_next(msg)
        finally:
            otel_context.detach(token)


def current_traceparent() -> str | None:
    """The current span's W3C ``traceparent``, to keep with work done later; None outside any span."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


@contextmanager
def continued_span(
    tracer: trace.Tracer,
    name: str,
    traceparent: str | None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, str | int] | None = None,
) -> Iterator[trace.Span]:
    """A current span, child of the span ``traceparent`` names; a root span when there is none (or it is
    unreadable), never a child of whatever span happens to be current.
    """
    parent = propagate.extract({TRACEPARENT: traceparent}) if traceparent else otel_context.Context()
    with tracer.start_as_current_span(name, context=parent, kind=kind, attributes=attributes) as span:
        yield span


@contextmanager
def publish_span(headers: Mapping[str, Any], exchange: str, routing_key: str) -> Iterator[dict[str, Any]]:
    """A producer span for one relayed outbox row; yields the row's headers carrying this span's context.

    The span continues the trace the row was written in (its ``traceparent``) and links to the relay's
    current span (the batch), so a consumer's span becomes a child of the publish rather than of the
    request that wrote the row long before.
    """
    if not _exporting:
        # No span where none is exported: the row's trace context goes on as written, which is all a
        # span that records nothing would inject. Made per row, it was a tenth of the relay's CPU.
        yield dict(headers)
        return
    carrier = {key: str(headers[key]) for key in (TRACEPARENT, TRACESTATE) if headers.get(key)}
    batch = trace.get_current_span().get_span_context()
    with _tracer.start_as_current_span(
        f"{exchange or 'default'} publish",
        context=propagate.extract(carrier),
        kind=SpanKind.PRODUCER,
        links=[Link(batch)] if batch.is_valid else None,
        attributes={
            "messaging.system": "rabbitmq",
            "messaging.operation": "publish",
            "messaging.destination.name": exchange,
            "messaging.rabbitmq.destination.routing_key": routing_key,
            "messaging.message.id": str(headers.get(ID, "")),
            "messaging.message.conversation_id": str(headers.get(CORRELATION_ID, "")),
            "cloudevents.event_type": str(headers.get(TYPE, "")),
        },
    ):
        traced = {key: value for key, value in headers.items() if key != TRACESTATE}
        propagate.inject(traced)
        yield traced
