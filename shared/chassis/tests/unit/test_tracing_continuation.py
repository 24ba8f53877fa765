"""Work left for later continues the trace it was asked in: `current_traceparent`, `continued_span`."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Tracer

from chassis.observability.tracing import continued_span, current_traceparent


def private_tracer() -> tuple[Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def finished(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    (span,) = [s for s in exporter.get_finished_spans() if s.name == name]
    return span


def test_no_traceparent_outside_a_span() -> None:
    assert current_traceparent() is None


def test_a_continued_span_is_a_child_of_the_span_its_traceparent_names() -> None:
    tracer, exporter = private_tracer()
    with tracer.start_as_current_span("handler") as handler:
        kept = current_traceparent()
    assert kept is not None
    with continued_span(tracer, "later", kept, kind=SpanKind.CLIENT, attributes={"n": 1}):
        pass
    later = finished(exporter, "later")
    assert later.parent is not None
    assert later.parent.span_id == handler.get_span_context().span_id
    assert later.context.trace_id == handler.get_span_context().trace_id
    assert later.kind is SpanKind.CLIENT
    assert dict(later.attributes or {}) == {"n": 1}


def test_without_a_readable_traceparent_it_is_a_root_span_even_inside_another() -> None:
    tracer, exporter = private_tracer()
    with tracer.start_as_current_span("unrelated") as unrelated:
        for name, traceparent in (("none", None), ("garbled", "00-not-a-trace")):
            with continued_span(tracer, name, traceparent):
                pass
    for name in ("none", "garbled"):
        span = finished(exporter, name)
        assert span.parent is None, f"{name}: {span.parent}"
        assert span.context.trace_id != unrelated.get_span_context().trace_id
