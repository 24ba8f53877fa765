"""One order is one trace: from `POST /api/v1/orders` through every relay and handler to the e-mail, across
every process, as an OTLP collector receives it.

The test runs its own stack whose processes export spans over OTLP/HTTP to a receiver in this module, and
follows the order's spans: each must be a child (or a descendant, or linked) of the one before. Marked
``own_stack``: it runs before the session's stack starts.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from contracts.base import Message
from contracts.catalog import ReserveStock, StockReserved
from contracts.ordering import OrderConfirmed
from devstack.client import Customer, Folio, eventually
from devstack.config import StackConfig, with_free_ports
from devstack.stack import Stack
from notification.entrypoints.consumers import HANDLER as NOTIFICATION_HANDLER

pytestmark = [pytest.mark.e2e, pytest.mark.own_stack]

START_TIMEOUT = 180.0
# OTLP's SpanKind enumeration.
SERVER = 2
CLIENT = 3
NOTIFICATION_QUEUE = f"notification.{NOTIFICATION_HANDLER}"
TIMEOUT = 45.0


@dataclass(frozen=True)
class Span:
    service: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    attributes: dict[str, Any]
    # (trace id, span id) of each linked span.
    links: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        return f"{self.service}: {self.name} ({self.span_id})"


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def decode(body: bytes) -> list[Span]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    Span(
                        service=str(resource.get("service.name")),
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        name=span.name,
                        kind=span.kind,
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links),
                    )
                )
    return spans


class Receiver:
    """An OTLP/HTTP trace endpoint (``POST /v1/traces``, protobuf) keeping every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                spans = decode(body)
                with receiver._lock:
                    receiver.spans.extend(spans)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def received(self) -> list[Span]:
        with self._lock:
            return list(self.spans)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture(scope="module")
def traced_stack(receiver: Receiver) -> Iterator[Stack]:
    tag = uuid.uuid4().hex[:8]
    run_dir = Path(tempfile.gettempdir()) / "folio-e2e" / f"trace-{tag}"
    env = {
        "FOLIO_OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        # The SDK's batch processor exports every 5 s by default.
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "FOLIO_OUTBOX_POLL_INTERVAL": "0.5",
        "NOTIFICATION_SENDER_POLL_INTERVAL_SECONDS": "0.2",
    }
    config = with_free_ports(
        StackConfig(prefix=f"e2e_trace_{tag}", vhost=f"folio_e2e_trace_{tag}", run_dir=run_dir, extra_env=env)
    )
    running = Stack(config)
    failed = True
    try:
        running.prepare()
        running.start()
        running.wait_ready(timeout=START_TIMEOUT)
        yield running
        failed = False
    finally:
        running.teardown(stop_timeout=5)
        if failed:
            print(f"\ntrace stack logs kept in {running.log_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


def _one(spans: list[Span], what: str, **match: Any) -> Span:
    found = [
        s
        for s in spans
        if all(
            (getattr(s, k) if k in ("service", "name", "kind") else s.attributes.get(k)) == v
            for k, v in match.items()
        )
    ]
    assert len(found) == 1, f"{what}: expected one span matching {match}, found {[str(s) for s in found]}"
    return found[0]


def follows(span: Span, earlier: Span, by_id: dict[str, Span]) -> bool:
    """``span`` descends from ``earlier`` in its trace, or is linked to it or to one of its descendants."""
    current: Span | None = span
    while current is not None:
        if current.span_id == earlier.span_id and current.trace_id == earlier.trace_id:
            return True
        for trace_id, span_id in current.links:
            linked = by_id.get(span_id)
            if linked is not None and trace_id == linked.trace_id and follows(linked, earlier, by_id):
                return True
        current = by_id.get(current.parent_id) if current.parent_id else None
    return False


def test_an_order_is_one_trace_from_the_request_to_the_email(traced_stack: Stack, receiver: Receiver) -> None:
    with Folio(traced_stack.config) as folio:
        book = folio.create_book("Traces", price="12.00", stock=2)
        order_id = folio.place_order(Customer.named("Otel"), {book["id"]: 1})
        folio.wait_status(order_id, {"confirmed"}, timeout=TIMEOUT)
        sent = eventually(
            lambda: [n for n in folio.notifications(order_id) if n["status"] == "sent"] or None,
            timeout=TIMEOUT,
            what="the confirmation e-mail sent",
        )
    (email,) = sent

    def published(service: str, message: type[Message]) -> dict[str, Any]:
        return {"service": service, "messaging.operation": "publish", "cloudevents.event_type": message.TYPE}

    def handled(service: str, queue: str, message: type[Message]) -> dict[str, Any]:
        return {"service": service, "name": f"{queue} handle", "cloudevents.event_type": message.TYPE}

    steps: list[tuple[str, dict[str, Any]]] = [
        ("the request", {"service": "ordering", "name": "POST /api/v1/orders", "kind": SERVER}),
        ("ordering's relay publishing ReserveStock", published("ordering", ReserveStock)),
        ("catalog's ReserveStock handler", handled("catalog", "catalog.reserve_stock", ReserveStock)),
        ("catalog's relay publishing StockReserved", published("catalog", StockReserved)),
        ("ordering's StockReserved handler", handled("ordering", "ordering.stock_reserved", StockReserved)),
        ("ordering's relay publishing OrderConfirmed", published("ordering", OrderConfirmed)),
        ("notification recording the e-mail", handled("notification", NOTIFICATION_QUEUE, OrderConfirmed)),
    ]
    for _, match in steps[1:]:
        match["messaging.message.conversation_id"] = order_id
    # The sender hands the e-mail over later, in a span continuing the recording handler's.
    steps.append(
        (
            "notification's sender handing the e-mail to the mail server",
            {
                "service": "notification",
                "name": "smtp send",
                "kind": CLIENT,
                "folio.notification.id": email["id"],
                "folio.order.id": order_id,
            },
        )
    )

    def chain() -> list[Span] | None:
        spans = receiver.received()
        try:
            return [_one(spans, what, **match) for what, match in steps]
        except AssertionError:
            return None

    # Every process exports on its own schedule: wait until each step has arrived.
    found = eventually(chain, timeout=15, what="every span of the order's trace received")
    spans = receiver.received()
    by_id = {s.span_id: s for s in spans}
    request = found[0]
    assert (
        request.attributes.get("http.status_code") == 202
        or request.attributes.get("http.response.status_code") == 202
    )
    for (what, _), span, (before, _), earlier in zip(steps[1:], found[1:], steps, found, strict=False):
        assert span.trace_id == request.trace_id, f"{what} is in another trace than the request"
        assert follows(span, earlier, by_id), f"{what} ({span}) does not follow {before} ({earlier})"
    handler, smtp_send = found[-2], found[-1]
    assert smtp_send.parent_id == handler.span_id, f"{smtp_send} is not a child of {handler}"
    assert smtp_send.attributes.get("folio.notification.outcome") == "accepted"
