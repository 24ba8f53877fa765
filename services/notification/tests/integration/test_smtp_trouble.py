"""The real worker against mail servers in trouble: down for a while, throttling, refusing, or slow.

Every server is a real one made here (aiosmtpd on a free port); the ladder is short by settings.
"""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from contracts.envelope import new_id
from contracts.examples import example
from contracts.notification import NotificationFailed, NotificationSent
from contracts.ordering import OrderConfirmed
from folio_ops.mail_sink import SmtpSink
from testkit.ports import free_port

pytestmark = pytest.mark.integration


def confirmed(email: str = "ada@example.com") -> OrderConfirmed:
    return example(OrderConfirmed).model_copy(update={"order_id": new_id(), "customer_email": email})


async def test_a_mail_server_not_listening_for_a_while_delays_the_email_and_never_fails_it(
    start_worker, bus, db, eventually
) -> None:
    port = free_port()
    # Far longer than the old budget of five tries (about 0.35 s on this ladder), well inside the horizon.
    async with start_worker(smtp_port=port, give_up_after_seconds=60):
        envelope = await bus.publish(confirmed())

        async def refused_several_times() -> bool:
            rows = await db.notifications(envelope.id)
            return bool(rows) and rows[0]["attempts"] >= 6

        await eventually(refused_several_times)
        [waiting] = await db.notifications(envelope.id)
        async with SmtpSink(port=port) as server:

            async def sent() -> bool:
                return bool(await db.outbox(NotificationSent.TYPE))

            await eventually(sent)

    assert waiting["status"] in ("pending", "sending")
    assert "not handed over" in waiting["last_error"]
    assert len(server.messages) == 1
    [row] = await db.notifications(envelope.id)
    assert row["status"] == "sent"
    assert await db.outbox(NotificationFailed.TYPE) == []


async def test_a_server_throttling_with_421_is_tried_again_and_the_email_goes_out_once(
    start_worker, bus, sink: SmtpSink, db, eventually
) -> None:
    sink.refuse_next(2, "421 4.7.0 Too many messages, slow down")
    async with start_worker(give_up_after_seconds=60):
        envelope = await bus.publish(confirmed())

        async def sent() -> bool:
            return bool(await db.outbox(NotificationSent.TYPE))

        await eventually(sent)

    assert (sink.refused, len(sink.messages)) == (2, 1)
    [row] = await db.notifications(envelope.id)
    assert (row["status"], row["attempts"]) == ("sent", 3)
    assert row["last_error"].startswith("421 4.7.0")


async def test_a_550_reply_fails_the_notification_at_once_with_the_servers_reply(
    start_worker, bus, sink: SmtpSink, db, eventually
) -> None:
    sink.refuse_next(1, "550 5.1.1 No such mailbox here")
    async with start_worker(give_up_after_seconds=60):
        envelope = await bus.publish(confirmed())

        async def failed() -> bool:
            return bool(await db.outbox(NotificationFailed.TYPE))

        await eventually(failed)

    [row] = await db.notifications(envelope.id)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    [outbox_row] = await db.outbox(NotificationFailed.TYPE)
    failure = NotificationFailed.from_wire(outbox_row["body"])
    assert (failure.reason, failure.attempts) == ("550 5.1.1 No such mailbox here", 1)
    assert (sink.refused, sink.messages) == (1, [])


async def test_no_more_smtp_sessions_are_open_at_once_than_the_setting_allows(
    start_worker, bus, db, eventually
) -> None:
    # Each message is held 0.2 s, so that sessions overlap whenever the sender opens several.
    slow = SmtpSink(answer_delay=0.2)
    async with slow, start_worker(smtp_port=slow.port, smtp_max_sessions=2, sender_batch_size=20):
        for n in range(6):
            await bus.publish(confirmed(f"reader{n}@example.com"))

        async def all_sent() -> bool:
            return len(await db.outbox(NotificationSent.TYPE)) == 6

        await eventually(all_sent)

    assert len(slow.messages) == 6
    assert slow.sessions_peak == 2


async def test_emails_waiting_for_a_mail_server_that_is_down_show_in_the_pending_gauge(
    start_worker, bus, db, eventually
) -> None:
    async with start_worker(smtp_port=free_port(), give_up_after_seconds=60, metrics_interval_seconds=0.1):
        for n in range(2):
            await bus.publish(confirmed(f"reader{n}@example.com"))

        async def both_waiting() -> bool:
            return REGISTRY.get_sample_value("folio_notification_pending") == 2

        await eventually(both_waiting)

    assert {row["status"] for row in await db.notifications()} <= {"pending", "sending"}
