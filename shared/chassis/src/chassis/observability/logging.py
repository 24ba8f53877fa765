"""Process-wide logging: one JSON object per line, each carrying what ties it to a request, message and trace.

Every record gets ``service``, ``request_id`` (the HTTP request being served), ``correlation_id``,
``message_id`` and ``message_type`` (the message being handled, from :mod:`chassis.messaging.context`) and
``trace_id``/``span_id`` (the current OpenTelemetry span), so a log search can follow one order through
every service. Fields without a value are left out of JSON lines.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from chassis.messaging import context

_request_id: ContextVar[str | None] = ContextVar("folio_request_id", default=None)

# Attributes the context filter sets on every record, in the order plain-text lines show them.
CONTEXT_FIELDS = (
    "service",
    "request_id",
    "correlation_id",
    "message_id",
    "message_type",
    "trace_id",
    "span_id",
)

# Their own handlers would print a second, unstructured copy of every line; the root handler serves them all.
_ROUTED_TO_ROOT = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "fastapi",
    "faststream",
    "faststream.access",
    "faststream.access.rabbit",
)

_PLAIN_FORMAT = (
    "%(asctime)s %(levelname)-7s %(name)s [%(service)s req=%(request_id)s corr=%(correlation_id)s "
    "msg=%(message_id)s trace=%(trace_id)s] %(message)s"
)


def current_request_id() -> str | None:
    return _request_id.get()


@contextmanager
def bound_request_id(request_id: str | None) -> Iterator[None]:
    """Tag every record logged inside the block with ``request_id``."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


class ContextFilter(logging.Filter):
    """Adds the request, message and trace identifiers of the current task to each record."""

    def __init__(self, service: str | None) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        handling = context.current()
        span = trace.get_current_span().get_span_context()
        values: dict[str, Any] = {
            "service": self.service,
            "request_id": _request_id.get(),
            "correlation_id": handling.correlation_id,
            "message_id": str(handling.message_id) if handling.message_id else None,
            "message_type": handling.message_type,
            "trace_id": trace.format_trace_id(span.trace_id) if span.is_valid else None,
            "span_id": trace.format_span_id(span.span_id) if span.is_valid else None,
        }
        for name, value in values.items():
            # A value passed explicitly through ``extra=`` wins over the ambient one.
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


# Extras some libraries attach that only make sense on a terminal.
_DROPPED_EXTRAS = frozenset({"color_message"})


class _JsonLineFormatter(JsonFormatter):
    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in log_data.items() if v is not None and k not in _DROPPED_EXTRAS}


class _PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, "-")
        return super().format(record)


def json_formatter() -> logging.Formatter:
    return _JsonLineFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger"},
        # UTC ISO-8601, as every other time in Folio.
        timestamp="time",
    )


def plain_formatter() -> logging.Formatter:
    return _PlainFormatter(_PLAIN_FORMAT)


def configure_logging(
    level: str | int = "INFO",
    *,
    json: bool = True,
    service: str | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every logger's records to one stream handler (stdout by default); returns that handler.

    Calling it again replaces the handler it installed before, so tests and the ``all`` role can call it
    freely.
    """
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(json_formatter() if json else plain_formatter())
    handler.addFilter(ContextFilter(service))
    handler.set_name("folio")

    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "folio":
            root.removeHandler(existing)
            existing.close()
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)

    for name in _ROUTED_TO_ROOT:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler
