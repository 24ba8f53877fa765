"""OpenTelemetry tracing: one tracer provider per process, and the instrumentation each role needs.

Without an OTLP endpoint no span is exported, but request and message spans are still created so that
trace ids reach the logs and ``traceparent`` travels from an HTTP request into the outbox rows it causes and
on to the consumers. The relay publishes each row under a span of its own, child of the trace the row was
written in, and sends that span's ``traceparent``: one trace runs request, publish, handler, publish, handler,
across every process. Work a handler leaves for later (an e-mail the sender hands over) keeps the handler's
``traceparent`` (``current_traceparent``) and runs in a span continuing it (``continued_span``).

Statement spans are made only when they are exported: profiling showed tracing every statement (once by
SQLAlchemy's and again by asyncpg's instrumentation) cost about a tenth of a worker's CPU.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware
from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.sqlalchemy.version import __version__ as sqlalchemy_instrumentation_version
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.semconv.metrics import MetricInstruments
from opentelemetry.trace import Link, SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import CORRELATION_ID, ID, TRACEPARENT, TRACESTATE, TYPE

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("chassis.outbox")

# Probes and scrapes arrive every few seconds and would drown the traces that matter.
UNTRACED_URLS = "health/live,health/ready,metrics"

_provider: TracerProvider | None = None
# Whether spans leave the process; statement spans are skipped when they would not.
_exporting = False
_traced_engines: weakref.WeakSet[Any] = weakref.WeakSet()


def configure_tracing(
    service_name: str, otlp_endpoint: str | None = None, *, version: str | None = None
) -> TracerProvider:
    """Install the process's tracer provider (the first call wins; later calls return it unchanged).

    ``otlp_endpoint`` is the collector's base URL (``http://collector:4318``); spans go to its
    ``/v1/traces`` over OTLP/HTTP. Statements are traced through SQLAlchemy (``instrument_engine``) only.
    """
    global _provider, _exporting
    if _provider is not None:
        return _provider
    attributes = {"service.name": service_name}
    if version:
        attributes["service.version"] = version
    provider = TracerProvider(resource=Resource.create(attributes))
    if otlp_endpoint:
        endpoint = otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        _exporting = True
    trace.set_tracer_provider(provider)
    _provider = provider
    log.info("tracing configured", extra={"otlp_endpoint": otlp_endpoint or None})
    return provider


def shutdown_tracing() -> None:
    """Flush the spans still buffered (at process exit)."""
    if _provider is not None:
        _provider.shutdown()


def tracer_provider() -> trace.TracerProvider:
    return _provider or trace.get_tracer_provider()


def instrument_app(app: FastAPI) -> None:
    """A server span per request, continuing the caller's ``traceparent``."""
    FastAPIInstrumentor.instrument_app(app, tracer_provider=tracer_provider(), excluded_urls=UNTRACED_URLS)


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


def telemetry_middleware() -> RabbitTelemetryMiddleware:
    """FastStream's tracing middleware: a consumer span per delivery, child of the message's ``traceparent``.

    Add it to the broker as its outermost middleware so the span covers retries, parking and the handler:
    ``broker.insert_middleware(telemetry_middleware())`` (or ``RabbitBroker(middlewares=[...])`` first).
    """
    return RabbitTelemetryMiddleware(tracer_provider=tracer_provider())


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
