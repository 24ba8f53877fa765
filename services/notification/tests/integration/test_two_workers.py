"""Two workers consuming and sending at once: every order message still gives exactly one e-mail."""

from __future__ import annotations

from collections import Counter

import pytest

from contracts.envelope import new_id
from contracts.examples import example
from contracts.notification import NotificationSent
from contracts.ordering import OrderConfirmed
from folio_ops.mail_sink import SmtpSink
from testkit.quiescence import FinishedDeliveries

pytestmark = pytest.mark.integration

MESSAGES = 40


async def test_two_workers_send_one_email_per_message_between_them(
    start_worker, bus, sink: SmtpSink, db, eventually
) -> None:
    async with start_worker(sender_batch_size=5) as one, start_worker(sender_batch_size=5) as two:
        assert one is not two
        deliveries = FinishedDeliveries()
        envelopes = []
        for n in range(MESSAGES):
            message = example(OrderConfirmed).model_copy(
                update={"order_id": new_id(), "customer_email": f"reader{n}@example.com"}
            )
            envelopes.append(await bus.publish(message))
            # Each publish once more: redeliveries race between the two workers too.
            await bus.publish(message, envelope=envelopes[-1])
        await sink.wait_for(MESSAGES, within=20)

        async def all_settled() -> bool:
            return len(await db.outbox(NotificationSent.TYPE)) == MESSAGES

        await eventually(all_settled, within=20)
        # Every copy finished with by one worker or the other, and nothing left to send.
        await eventually(lambda: deliveries.at_least(2 * MESSAGES), what="every copy finished")
        await eventually(db.senders_idle)

    per_message_id = Counter(mail.header("Message-ID") for mail in sink.messages)
    assert len(sink.messages) == MESSAGES
    assert set(per_message_id.values()) == {1}
    rows = await db.notifications()
    assert len(rows) == MESSAGES
    assert {row["status"] for row in rows} == {"sent"}
    assert {row["attempts"] for row in rows} == {1}
    assert {row["source_message_id"] for row in rows} == {e.id for e in envelopes}
