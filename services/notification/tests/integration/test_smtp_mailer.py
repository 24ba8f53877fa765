"""The mailer against real SMTP servers: what counts as accepted, refused (safe to retry) or unknown."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest

from contracts.envelope import new_id
from folio_ops.mail_sink import SmtpSink
from notification.adapters.smtp import SmtpConfig, SmtpMailer
from notification.domain.content import EmailContent
from notification.domain.delivery import Accepted, Refused, Unknown
from notification.domain.notification import Notification
from testkit.ports import free_port

pytestmark = pytest.mark.integration

# A line holding a lone dot would end the DATA section unless the client escapes it.
DOTTED_TEXT = "Hello\n.\nA line with a lone dot\n"


def notification(recipient: str = "ada@example.com") -> Notification:
    return Notification.record(
        notification_id=new_id(),
        source_message_id=new_id(),
        source_type="folio.ordering.order-confirmed.v1",
        order_id=new_id(),
        customer_id="user-1",
        recipient=recipient,
        template="order-confirmed",
        content=EmailContent(subject="Your order", text=DOTTED_TEXT, html="<p>Hi</p>"),
        at=datetime.now(UTC),
    )


def mailer(port: int, **kwargs: float) -> SmtpMailer:
    return SmtpMailer(SmtpConfig(port=port, command_timeout=1.0, deadline=2.0, **kwargs))  # type: ignore[arg-type]


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def scripted_server(script: Script) -> AsyncIterator[int]:
    """A hand-written SMTP server, for the failures a well-behaved one never shows."""
    server = await asyncio.start_server(script, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def reply_until_data(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 scripted ESMTP\r\n")
    while line := await reader.readline():
        command = line.split(b" ", 1)[0].strip().upper()
        if command in (b"EHLO", b"HELO"):
            writer.write(b"250 scripted\r\n")
        elif command in (b"MAIL", b"RCPT"):
            writer.write(b"250 ok\r\n")
        elif command == b"DATA":
            writer.write(b"354 go ahead\r\n")
            await writer.drain()
            await reader.readuntil(b"\r\n.\r\n")
            return
        await writer.drain()


async def test_an_email_the_server_takes_is_accepted_and_arrives_whole() -> None:
    async with SmtpSink() as sink:
        sent = notification()

        outcome = await mailer(sink.port).deliver(sent)

    assert isinstance(outcome, Accepted)
    assert outcome.reply.startswith("250")
    [mail] = sink.messages
    assert mail.mail_from == "no-reply@folio.example"
    assert mail.rcpt_tos == ("ada@example.com",)
    assert mail.header("Message-ID") == f"<notification.{sent.id}@folio.example>"
    assert mail.part("plain").replace("\r\n", "\n") == DOTTED_TEXT


@pytest.mark.parametrize("reply", ["451 4.3.0 try later", "550 5.1.1 no such mailbox"])
async def test_an_email_the_server_refuses_is_refused_with_its_code(reply: str) -> None:
    async with SmtpSink() as sink:
        sink.refuse_next(1, reply)

        outcome = await mailer(sink.port).deliver(notification())

    assert outcome == Refused(reply, int(reply[:3]), permanent=reply.startswith("5"))
    assert sink.messages == []


async def test_no_server_listening_is_a_refusal_safe_to_retry() -> None:
    outcome = await mailer(free_port()).deliver(notification())

    assert isinstance(outcome, Refused)
    assert "not handed over" in outcome.reason


async def test_a_server_silent_before_data_is_a_refusal_safe_to_retry() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)  # never even greets

    async with scripted_server(silent) as port:
        outcome = await mailer(port).deliver(notification())

    assert isinstance(outcome, Refused)


async def test_a_connection_lost_after_the_body_was_sent_is_unknown_never_refused() -> None:
    async def hang_up_after_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reply_until_data(reader, writer)
        writer.close()

    async with scripted_server(hang_up_after_body) as port:
        outcome = await mailer(port).deliver(notification())

    assert isinstance(outcome, Unknown)
    assert outcome.reason.startswith("delivery unknown")


async def test_no_answer_after_the_body_was_sent_is_unknown() -> None:
    async def mute_after_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reply_until_data(reader, writer)
        await asyncio.sleep(5)

    async with scripted_server(mute_after_body) as port:
        outcome = await mailer(port).deliver(notification())

    assert isinstance(outcome, Unknown)


async def test_a_non_ascii_address_goes_out_with_smtputf8_where_the_server_offers_it() -> None:
    async with SmtpSink(smtputf8=True) as sink:
        outcome = await mailer(sink.port).deliver(notification("josé.müller@exämple.com"))

    assert isinstance(outcome, Accepted)
    [mail] = sink.messages
    assert mail.rcpt_tos == ("josé.müller@exämple.com",)
    assert mail.header("To") == "josé.müller@exämple.com"
    assert mail.part("plain").replace("\r\n", "\n") == DOTTED_TEXT


async def test_a_non_ascii_address_fails_for_good_saying_why_where_the_server_lacks_smtputf8() -> None:
    async with SmtpSink(smtputf8=False) as sink:
        outcome = await mailer(sink.port).deliver(notification("josé@example.com"))
        ascii_outcome = await mailer(sink.port).deliver(notification("jose@example.com"))

    assert outcome == Refused(
        "the address 'josé@example.com' has non-ASCII characters and the mail server does not offer SMTPUTF8",
        permanent=True,
    )
    assert isinstance(ascii_outcome, Accepted)
    assert [mail.rcpt_tos for mail in sink.messages] == [("jose@example.com",)]


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [("421 4.7.0 slow down", False), ("454 4.7.0 TLS not available", False), ("554 5.7.1 rejected", True)],
)
async def test_a_4xx_reply_is_transient_and_a_5xx_reply_permanent(reply: str, permanent: bool) -> None:
    async with SmtpSink() as sink:
        sink.refuse_next(1, reply)

        outcome = await mailer(sink.port).deliver(notification())

    assert outcome == Refused(reply, int(reply[:3]), permanent=permanent)


async def test_concurrent_deliveries_share_at_most_max_sessions_smtp_sessions() -> None:
    async with SmtpSink(answer_delay=0.1) as sink:
        bounded = SmtpMailer(SmtpConfig(port=sink.port, command_timeout=2.0, deadline=3.0, max_sessions=2))

        outcomes = await asyncio.gather(*(bounded.deliver(notification()) for _ in range(5)))

    assert all(isinstance(outcome, Accepted) for outcome in outcomes)
    assert (len(sink.messages), sink.sessions_peak) == (5, 2)


def ehlo_recorder(names: list[str]) -> Script:
    """A server that takes every e-mail and writes down the name each session gave in EHLO."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 scripted ESMTP\r\n")
        while line := await reader.readline():
            command, _, argument = line.strip().partition(b" ")
            if command.upper() in (b"EHLO", b"HELO"):
                names.append(argument.decode())
                writer.write(b"250 scripted\r\n")
            elif command.upper() in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                writer.write(b"250 ok\r\n")
            elif command.upper() == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                await reader.readuntil(b"\r\n.\r\n")
                writer.write(b"250 queued\r\n")
            elif command.upper() == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                writer.close()
                return
            await writer.drain()

    return script


async def test_every_session_greets_with_the_configured_name() -> None:
    names: list[str] = []
    async with scripted_server(ehlo_recorder(names)) as port:
        sender = SmtpMailer(
            SmtpConfig(port=port, command_timeout=1.0, deadline=2.0, local_hostname="mx.folio.test")
        )

        outcomes = [await sender.deliver(notification()) for _ in range(2)]

    assert all(isinstance(outcome, Accepted) for outcome in outcomes), outcomes
    assert names == ["mx.folio.test", "mx.folio.test"]


async def test_without_a_configured_name_the_machines_name_is_looked_up_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lookups: list[str] = []

    def getfqdn(name: str = "") -> str:
        lookups.append(name)
        return "host.folio.test"

    # aiosmtplib would otherwise look the name up in a thread for every session.
    monkeypatch.setattr(socket, "getfqdn", getfqdn)
    names: list[str] = []
    async with scripted_server(ehlo_recorder(names)) as port:
        sender = mailer(port)

        outcomes = await asyncio.gather(*(sender.deliver(notification()) for _ in range(3)))

    assert all(isinstance(outcome, Accepted) for outcome in outcomes), outcomes
    assert names == ["host.folio.test"] * 3
    assert len(lookups) == 1


async def test_a_name_lookup_that_hangs_refuses_the_hand_off_within_its_deadline_to_be_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def hanging_getfqdn(name: str = "") -> str:
        time.sleep(1.0)  # a resolver that does not answer in time
        return "host.folio.test"

    monkeypatch.setattr(socket, "getfqdn", hanging_getfqdn)
    names: list[str] = []
    async with scripted_server(ehlo_recorder(names)) as port:
        sender = SmtpMailer(SmtpConfig(port=port, command_timeout=0.2, deadline=0.3))
        began = time.monotonic()

        outcome = await sender.deliver(notification())
        took = time.monotonic() - began

    assert isinstance(outcome, Refused)
    assert not outcome.permanent
    assert took < 0.9, f"the hand-off waited {took:.1f}s for the lookup"
    assert names == []
