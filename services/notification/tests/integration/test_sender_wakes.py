"""The sender sleeps between passes and still sends on time, against the real PostgreSQL and an SMTP sink:
an e-mail recorded while it sleeps goes out at once (NOTIFY), and one due later (another worker's backoff, or
its own) goes out when it is due, although both of its polls are longer than the test. It keeps its SMTP
session while it sleeps, and ends it when it stops."""

from __future__ import annotations

import asyncio

import pytest

from contracts.envelope import new_id
from contracts.examples import example
from contracts.ordering import OrderConfirmed
from folio_ops.mail_sink import SmtpSink

pytestmark = pytest.mark.integration

# Only a NOTIFY, or the sender's own reading of the next due time, can explain an e-mail within the test.
ASLEEP = {"sender_poll_interval_seconds": 120.0, "sender_idle_poll_interval_seconds": 120.0}


async def one_email_sent(bus, sink: SmtpSink, db, eventually) -> None:
    """An order confirmed, its e-mail out (a NOTIFY woke the sender) and recorded: nothing left pending."""
    await bus.publish(example(OrderConfirmed))
    await sink.wait_for(1, within=15)
    await eventually(db.senders_idle)


async def test_an_email_recorded_while_the_sender_sleeps_goes_out_at_once(
    start_worker, bus, sink: SmtpSink, db, eventually
) -> None:
    async with start_worker(**ASLEEP):
        await one_email_sent(bus, sink, db, eventually)
        # Past its pass and its read of the next due time: nothing is pending, so it sleeps 120 s now.
        await asyncio.sleep(0.5)
        await bus.publish(example(OrderConfirmed).model_copy(update={"order_id": new_id()}))
        await sink.wait_for(2, within=15)


async def test_an_email_due_later_goes_out_when_it_comes_due(
    start_worker, bus, sink: SmtpSink, db, eventually
) -> None:
    async with start_worker(**ASLEEP):
        await one_email_sent(bus, sink, db, eventually)
    # Pending again, due in three seconds, as a refused e-mail waits out its backoff; no NOTIFY announces it.
    await db.execute(
        "UPDATE notifications SET status = 'pending', sent_at = NULL,"
        " next_attempt_at = now() + interval '3 seconds'"
    )
    due_at = (await db.notifications())[0]["next_attempt_at"]
    async with start_worker(**ASLEEP):
        await sink.wait_for(2, within=15)
        await eventually(db.senders_idle)
    sent_at = (await db.notifications())[0]["sent_at"]
    assert sent_at >= due_at, "sent when due, not before"


async def test_an_email_the_server_refused_goes_out_again_when_its_backoff_ends(
    start_worker, bus, sink: SmtpSink, db, eventually
) -> None:
    # No NOTIFY announces a backoff's end: the pass that put the e-mail back pending knows when it is due.
    sink.refuse_next(1)
    backoff = {"backoff_base_seconds": 1.0, "backoff_max_seconds": 1.0, "give_up_after_seconds": 60.0}
    async with start_worker(**ASLEEP, **backoff):
        await bus.publish(example(OrderConfirmed))
        await sink.wait_for(1, within=15)
        await eventually(db.senders_idle)
    (sent,) = await db.notifications()
    assert sent["status"] == "sent"
    assert sent["attempts"] == 2


async def test_a_stopping_worker_leaves_no_smtp_session_open(
    start_worker, bus, sink: SmtpSink, db, eventually
) -> None:
    async with start_worker(**ASLEEP):
        await one_email_sent(bus, sink, db, eventually)
        kept_open = sink.handler.sessions_open

    async def none_open() -> bool:
        return sink.handler.sessions_open == 0

    await eventually(none_open, within=3)
    assert kept_open == 1
