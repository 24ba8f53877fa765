"""JSON log lines carry the service, request, message and trace identifiers; plain lines are readable."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from chassis.messaging import context
from chassis.observability.logging import bound_request_id, configure_logging


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    buffer = io.StringIO()
    yield buffer
    for handler in list(root.handlers):
        if handler not in saved_handlers:
            root.removeHandler(handler)
    root.setLevel(saved_level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_has_level_logger_message_time_and_service(stream: io.StringIO) -> None:
    configure_logging("INFO", json=True, service="catalog", stream=stream)

    logging.getLogger("catalog.books").info("book %s created", "dune", extra={"book_id": "b-1"})

    [line] = lines(stream)
    assert line["level"] == "INFO"
    assert line["logger"] == "catalog.books"
    assert line["message"] == "book dune created"
    assert line["service"] == "catalog"
    assert line["book_id"] == "b-1"
    assert line["time"].startswith("20")
    # Nothing ambient is set: those fields are left out rather than null.
    assert "correlation_id" not in line
    assert "trace_id" not in line


def test_the_message_being_handled_and_the_request_are_on_the_line(stream: io.StringIO) -> None:
    configure_logging("INFO", json=True, service="ordering", stream=stream)
    message_id = uuid.uuid4()

    handling = context.MessageContext(message_id, "folio.catalog.stock-reserved.v1", "order-7")
    with context.bound(handling), bound_request_id("req-1"):
        logging.getLogger("ordering").warning("reserved")

    [line] = lines(stream)
    assert line["message_id"] == str(message_id)
    assert line["message_type"] == "folio.catalog.stock-reserved.v1"
    assert line["correlation_id"] == "order-7"
    assert line["request_id"] == "req-1"


def test_the_current_span_gives_trace_and_span_ids(stream: io.StringIO) -> None:
    configure_logging("INFO", json=True, service="rating", stream=stream)
    tracer = TracerProvider().get_tracer("test")

    with tracer.start_as_current_span("work") as span:
        logging.getLogger("rating").info("inside a span")
        expected = span.get_span_context()

    [line] = lines(stream)
    assert line["trace_id"] == trace.format_trace_id(expected.trace_id)
    assert line["span_id"] == trace.format_span_id(expected.span_id)
    assert len(line["trace_id"]) == 32


def test_an_exception_is_logged_with_its_traceback(stream: io.StringIO) -> None:
    configure_logging("INFO", json=True, service="catalog", stream=stream)

    try:
        raise ValueError("bad isbn")
    except ValueError:
        logging.getLogger("catalog").exception("failed")

    [line] = lines(stream)
    assert "ValueError: bad isbn" in line["exc_info"]


def test_the_level_filters_and_a_second_call_replaces_the_handler(stream: io.StringIO) -> None:
    configure_logging("INFO", json=True, service="catalog", stream=io.StringIO())
    configure_logging("WARNING", json=True, service="catalog", stream=stream)

    logging.getLogger("catalog").info("hidden")
    logging.getLogger("catalog").warning("shown")

    assert [line["message"] for line in lines(stream)] == ["shown"]
    assert sum(h.get_name() == "folio" for h in logging.getLogger().handlers) == 1


def test_plain_text_shows_the_identifiers_or_dashes(stream: io.StringIO) -> None:
    configure_logging("INFO", json=False, service="notification", stream=stream)

    with context.bound(context.MessageContext(None, None, "order-9")):
        logging.getLogger("notification").info("sent")

    text = stream.getvalue()
    assert "INFO" in text
    assert "[notification req=- corr=order-9 msg=- trace=-]" in text
    assert text.rstrip().endswith("sent")


def test_uvicorn_and_faststream_loggers_go_through_the_root_handler(stream: io.StringIO) -> None:
    logging.getLogger("uvicorn.access").addHandler(logging.StreamHandler(io.StringIO()))
    configure_logging("INFO", json=True, service="catalog", stream=stream)

    logging.getLogger("uvicorn.access").info("GET /health/live 200")

    assert lines(stream)[0]["logger"] == "uvicorn.access"
    assert logging.getLogger("uvicorn.access").handlers == []
