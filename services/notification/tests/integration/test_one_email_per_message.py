"""One e-mail per order message, against the real PostgreSQL, RabbitMQ and an SMTP sink that really receives.

The worker is the real one (consumer, sender, outbox relay); ordering's side is played on the real broker.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import pytest

from chassis.db import session_factory
from chassis.messaging.parked import list_parked
from contracts.envelope import Envelope, new_id
from contracts.examples import example
from contracts.notification import NotificationFailed, NotificationSent
from contracts.ordering import OrderCancelled, OrderConfirmed
from folio_ops.mail_sink import SmtpSink
from notification.adapters.unit_of_work import NotificationUnitOfWork
from notification.application.commands import ClaimDue, RecordNotification, WithdrawClaim
from notification.application.recording_handlers import record_notification
from notification.application.sending_handlers import claim_due, committed, withdraw_claim
from notification.domain.content import EmailContent
from notification.domain.delivery import DeliveryPolicy
from notification.domain.notification import WORKER_STOPPED
from testkit.polling import eventually as poll
from testkit.quiescence import CounterSince, FinishedDeliveries

pytestmark = pytest.mark.integration

QUEUE = "notification.order_emails"
# Short idle sleeps, so that a whole further sender pass comes at once.
QUICK_PASSES = 0.1


async def a_whole_pass_later() -> None:
    """Return once a sender pass that began after this call has finished: whatever it would send is sent."""
    passes = CounterSince("folio_notification_sender_passes_total")
    await poll(lambda: passes.at_least(2), what="a whole sender pass more")


def confirmed(email: str = "ada@example.com", customer_id: str = "user-1") -> OrderConfirmed:
    return example(OrderConfirmed).model_copy(
        update={"order_id": new_id(), "customer_id": customer_id, "customer_email": email}
    )


async def test_the_same_order_confirmed_delivered_three_times_gives_one_email(
    start_worker, bus, sink: SmtpSink, db, eventually
) -> None:
    message = confirmed("ada@example.com")
    deliveries = FinishedDeliveries(QUEUE)
    async with start_worker():
        first = await bus.publish(message)
        await bus.publish(message, envelope=first)
        await bus.publish(message, envelope=first)
        # Handled after the three copies (one delivery at a time): once its e-mail is out, theirs is too.
        await bus.publish(confirmed("bob@example.com"))
        await sink.wait_for(2)

        async def both_settled() -> bool:
            return len(await db.outbox(NotificationSent.TYPE)) == 2

        await eventually(both_settled)
        # Every copy finished with and nothing left to send: a second e-mail would be out by now.
        await eventually(lambda: deliveries.at_least(4), what="the four deliveries finished")
        await eventually(db.senders_idle)

    by_recipient = {mail.rcpt_tos: mail for mail in sink.messages}
    assert len(sink.messages) == 2
    assert [row["message_id"] for row in await db.inbox()].count(first.id) == 1
    assert set(by_recipient) == {("ada@example.com",), ("bob@example.com",)}
    [row] = await db.notifications(first.id)
    assert (row["status"], row["attempts"], row["template"]) == ("sent", 1, "order-confirmed")
    mail = by_recipient[("ada@example.com",)]
    assert mail.header("Message-ID") == f"<notification.{row['id']}@folio.example>"
    assert mail.header("X-Folio-Source-Message-Id") == str(first.id)
    assert "30.00 EUR" in mail.part("plain")
    assert "30.00 EUR" in mail.part("html")


async def test_a_message_redelivered_after_its_inbox_row_was_pruned_still_gives_one_email(
    start_worker, bus, sink: SmtpSink, db, eventually
) -> None:
    message = confirmed("ada@example.com")
    deliveries = FinishedDeliveries(QUEUE)
    async with start_worker():
        first = await bus.publish(message)
        await sink.wait_for(1)
        await db.execute("DELETE FROM inbox")
        await bus.publish(message, envelope=first)
        await bus.publish(confirmed("bob@example.com"))
        await sink.wait_for(2)
        await eventually(lambda: deliveries.at_least(3), what="the three deliveries finished")
        await eventually(db.senders_idle)

    assert sorted(mail.rcpt_tos for mail in sink.messages) == [("ada@example.com",), ("bob@example.com",)]
    assert len(await db.notifications(first.id)) == 1
    # The redelivery was handled (its inbox row is back), and recorded nothing: the source id is unique.
    assert first.id in [row["message_id"] for row in await db.inbox()]


async def test_notification_sent_goes_out_through_the_outbox_caused_by_the_order_message(
    start_worker, bus, sink: SmtpSink, db, eventually
) -> None:
    message = confirmed()
    async with start_worker():
        envelope = await bus.publish(message)

        async def published() -> bool:
            rows = await db.outbox(NotificationSent.TYPE)
            return bool(rows) and rows[0]["published_at"] is not None

        await eventually(published)

    [row] = await db.outbox(NotificationSent.TYPE)
    sent = NotificationSent.from_wire(row["body"])
    assert sent.source_message_id == envelope.id
    assert sent.source_type == OrderConfirmed.TYPE
    assert (sent.order_id, sent.recipient) == (message.order_id, "ada@example.com")
    assert sent.template == "order-confirmed"
    assert row["headers"]["causation_id"] == str(envelope.id)
    assert row["headers"]["correlation_id"] == str(message.order_id)


async def test_a_server_refusing_twice_then_accepting_gives_one_email_and_notification_sent(
    start_worker, bus, sink: SmtpSink, db, eventually
) -> None:
    sink.refuse_next(2)
    async with start_worker():
        envelope = await bus.publish(confirmed())

        async def sent() -> bool:
            return bool(await db.outbox(NotificationSent.TYPE))

        await eventually(sent)

    assert sink.refused == 2
    assert len(sink.messages) == 1
    [row] = await db.notifications(envelope.id)
    assert (row["status"], row["attempts"]) == ("sent", 3)
    assert row["last_error"].startswith("451")
    assert await db.outbox(NotificationFailed.TYPE) == []


async def test_a_server_refusing_past_the_limit_gives_notification_failed_and_keeps_the_record(
    start_worker, bus, sink: SmtpSink, db, eventually
) -> None:
    sink.refuse_next(10)
    cancelled = example(OrderCancelled).model_copy(update={"order_id": new_id()})
    async with start_worker(sender_idle_poll_interval_seconds=QUICK_PASSES):
        envelope = await bus.publish(cancelled)

        async def failed() -> bool:
            return bool(await db.outbox(NotificationFailed.TYPE))

        await eventually(failed)
        # Nothing left to try, and the sender has looked again since: a fourth attempt would be made by now.
        await eventually(db.senders_idle)
        await a_whole_pass_later()

    assert sink.refused == 3
    assert sink.messages == []
    [row] = await db.notifications(envelope.id)
    assert (row["status"], row["attempts"], row["template"]) == ("failed", 3, "order-cancelled")
    [outbox_row] = await db.outbox(NotificationFailed.TYPE)
    failure = NotificationFailed.from_wire(outbox_row["body"])
    assert failure.attempts == 3
    assert failure.source_message_id == envelope.id
    assert failure.reason.startswith("gave up after 3 attempts: 451")
    assert await db.outbox(NotificationSent.TYPE) == []


async def test_a_notification_left_sending_by_a_stopped_worker_is_reported_unknown_and_never_resent(
    start_worker, bus, sink: SmtpSink, db, engine, eventually
) -> None:
    # A worker claimed two notifications (committed `sending`) and stopped before recording any outcome:
    # one long ago (past the lease), one a moment ago (its worker may still be talking to the server).
    policy = DeliveryPolicy()
    sessions = session_factory(engine)

    def uows() -> NotificationUnitOfWork:
        return NotificationUnitOfWork(sessions, policy=policy)

    sources = [new_id(), new_id()]
    async with NotificationUnitOfWork(sessions, policy=policy) as uow:
        for source in sources:
            await record_notification(recorded(source), uow)
        await uow.commit()
    await committed(uows, partial(claim_due, ClaimDue(datetime.now(UTC), 10)))
    await db.execute(
        "UPDATE notifications SET claimed_at = now() - interval '1 hour' WHERE source_message_id = :id",
        id=sources[0],
    )
    # The other's lease runs well past the moment the worker may first recover (a whole lease after start).
    await db.execute(
        "UPDATE notifications SET claimed_at = now() + interval '10 minutes' WHERE source_message_id = :id",
        id=sources[1],
    )

    async with start_worker(sending_lease_seconds=30, sender_idle_poll_interval_seconds=QUICK_PASSES):

        async def resolved() -> bool:
            [row] = await db.notifications(sources[0])
            return row["status"] == "uncertain"

        # Not before the worker has seen its database answer for a whole lease (30 s): a live worker that
        # held an outcome through an outage must get to record it first.
        await eventually(resolved, within=90)

        async def published() -> bool:
            rows = await db.outbox(NotificationFailed.TYPE)
            return bool(rows) and rows[0]["published_at"] is not None

        await eventually(published)
        # The sender has gone round again with recovery on: a resend or a wrong recovery would be done now.
        await a_whole_pass_later()

    assert sink.messages == []
    [stale] = await db.notifications(sources[0])
    [recent] = await db.notifications(sources[1])
    assert (stale["status"], stale["attempts"], stale["last_error"]) == ("uncertain", 1, WORKER_STOPPED)
    assert recent["status"] == "sending"
    [outbox_row] = await db.outbox(NotificationFailed.TYPE)
    failure = NotificationFailed.from_wire(outbox_row["body"])
    assert failure.reason == "delivery unknown: worker stopped during SMTP hand-off"
    assert failure.source_message_id == sources[0]


async def test_a_claim_is_withdrawn_by_its_id_only_and_its_rows_are_due_again(engine, db) -> None:
    # Two claims commit; the first worker never heard its commit's answer and withdraws what it holds.
    policy = DeliveryPolicy()
    sessions = session_factory(engine)

    def uows() -> NotificationUnitOfWork:
        return NotificationUnitOfWork(sessions, policy=policy)

    ours, theirs = new_id(), new_id()
    async with NotificationUnitOfWork(sessions, policy=policy) as uow:
        await record_notification(recorded(ours), uow)
        await uow.commit()
    mine = ClaimDue(datetime.now(UTC), 1)
    assert len(await committed(uows, partial(claim_due, mine))) == 1
    async with NotificationUnitOfWork(sessions, policy=policy) as uow:
        await record_notification(recorded(theirs), uow)
        await uow.commit()
    other = ClaimDue(datetime.now(UTC), 1)
    assert len(await committed(uows, partial(claim_due, other))) == 1

    withdrawal = WithdrawClaim(mine.claim_id, datetime.now(UTC))
    withdrawn = await committed(uows, partial(withdraw_claim, withdrawal))

    assert withdrawn == 1
    [back] = await db.notifications(ours)
    [kept] = await db.notifications(theirs)
    assert (back["status"], back["attempts"], back["claimed_at"], back["claim_id"]) == (
        "pending",
        0,
        None,
        None,
    )
    assert (kept["status"], kept["claim_id"]) == ("sending", other.claim_id)
    again = await committed(uows, partial(claim_due, ClaimDue(datetime.now(UTC), 10)))
    assert [n.source_message_id for n in again] == [ours]


def recorded(source: object) -> RecordNotification:
    return RecordNotification(
        notification_id=new_id(),
        source_message_id=source,  # type: ignore[arg-type]
        source_type=OrderConfirmed.TYPE,
        order_id=new_id(),
        customer_id="user-1",
        recipient="ada@example.com",
        template="order-confirmed",
        content=EmailContent(subject="Your Folio order is confirmed", text="text", html="<p>html</p>"),
        at=datetime.now(UTC),
    )


async def test_a_malformed_message_is_parked_with_its_reason_and_the_consumer_goes_on(
    start_worker, bus, sink: SmtpSink, db, amqp_url: str
) -> None:
    bad = Envelope(type=OrderConfirmed.TYPE, source="/folio/ordering", subject="x")
    async with start_worker():
        await bus.publish(confirmed(), envelope=bad, body=b'{"order_id": "not-a-uuid"}')
        good = await bus.publish(confirmed("after@example.com"))
        [mail] = await sink.wait_for(1)

    assert mail.rcpt_tos == ("after@example.com",)
    [parked] = await list_parked(amqp_url, QUEUE)
    assert parked.id == str(bad.id)
    assert parked.type == OrderConfirmed.TYPE
    assert parked.error is not None
    assert "order_id" in parked.error
    assert parked.attempts == 0
    assert await db.notifications(bad.id) == []
    assert len(await db.notifications(good.id)) == 1
