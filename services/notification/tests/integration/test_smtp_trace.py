"""The e-mail's hand-off is part of the order's trace: the recording handler's context is kept with the row,
and the mailer's ``smtp send`` span continues it (a root span for rows recorded without one)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.db import session_factory
from chassis.observability.tracing import current_traceparent
from contracts.envelope import new_id
from contracts.ordering import OrderConfirmed
from folio_ops.mail_sink import SmtpSink
from notification.adapters.smtp import SmtpConfig, SmtpMailer
from notification.adapters.unit_of_work import NotificationUnitOfWork
from notification.application.commands import ClaimDue, RecordNotification
from notification.application.recording_handlers import record_notification
from notification.application.sending_handlers import claim_due, committed
from notification.domain.content import EmailContent
from notification.domain.delivery import DeliveryPolicy
from notification.domain.notification import Notification

pytestmark = pytest.mark.integration


def asked_for(traceparent: str | None) -> dict[str, Any]:
    """What a handler records (``RecordNotification``'s fields, ``Notification.record``'s arguments)."""
    return {
        "notification_id": new_id(),
        "source_message_id": new_id(),
        "source_type": OrderConfirmed.TYPE,
        "order_id": new_id(),
        "customer_id": "user-1",
        "recipient": "ada@example.com",
        "template": "order-confirmed",
        "content": EmailContent(subject="Your order", text="text", html="<p>html</p>"),
        "at": datetime.now(UTC),
        "traceparent": traceparent,
    }


def claimable(traceparent: str | None) -> Notification:
    notification = Notification.record(**asked_for(traceparent))
    notification.start_attempt(notification.created_at)
    return notification


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


async def test_the_recorded_trace_context_comes_back_with_the_claimed_row(engine: AsyncEngine) -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    policy = DeliveryPolicy()
    sessions = session_factory(engine)

    def uows() -> NotificationUnitOfWork:
        return NotificationUnitOfWork(sessions, policy=policy)

    async with NotificationUnitOfWork(sessions, policy=policy) as uow:
        await record_notification(RecordNotification(**asked_for(traceparent)), uow)
        await record_notification(RecordNotification(**asked_for(None)), uow)
        await uow.commit()

    claimed = await committed(uows, partial(claim_due, ClaimDue(datetime.now(UTC), 10)))

    assert sorted(n.traceparent or "" for n in claimed) == ["", traceparent]


async def test_the_smtp_send_span_is_a_child_of_the_recording_handler(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    with provider.get_tracer("test").start_as_current_span("order_emails handle") as handler:
        traceparent = current_traceparent()
    exporter.clear()
    notification = claimable(traceparent)

    async with SmtpSink() as sink:
        await SmtpMailer(SmtpConfig(port=sink.port), tracer=provider.get_tracer("smtp")).deliver(notification)

    span = only_span(exporter)
    assert span.name == "smtp send"
    assert span.kind is SpanKind.CLIENT
    assert span.parent is not None
    assert span.parent.span_id == handler.get_span_context().span_id
    assert span.context.trace_id == handler.get_span_context().trace_id
    attributes = dict(span.attributes or {})
    assert attributes["folio.notification.id"] == str(notification.id)
    assert attributes["folio.notification.template"] == "order-confirmed"
    assert attributes["folio.notification.outcome"] == "accepted"


async def test_a_row_without_trace_context_is_sent_under_a_root_span_marked_failed_when_refused(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    async with SmtpSink() as sink:
        sink.refuse_next(1, "550 5.1.1 no such mailbox")
        await SmtpMailer(SmtpConfig(port=sink.port), tracer=provider.get_tracer("smtp")).deliver(
            claimable(None)
        )

    span = only_span(exporter)
    assert span.parent is None
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["folio.notification.outcome"] == "refused"


async def test_the_smtp_send_span_says_whether_the_session_was_reused(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    async with SmtpSink() as sink:
        mailer = SmtpMailer(SmtpConfig(port=sink.port), tracer=provider.get_tracer("smtp"))
        for _ in range(2):
            await mailer.deliver(claimable(None))
        await mailer.close()

    reused = [
        dict(span.attributes or {})["folio.smtp.session_reused"] for span in exporter.get_finished_spans()
    ]
    assert reused == [False, True]
