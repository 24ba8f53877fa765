"""The mailer against real SMTP servers: what counts as accepted, refused (safe to retry) or unknown; sessions
kept and reused; STARTTLS."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

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
        # One session per e-mail, so that there are two sessions to greet.
        config = SmtpConfig(
            port=port,
            command_timeout=1.0,
            deadline=2.0,
            local_hostname="mx.folio.test",
            messages_per_session=1,
        )
        sender = SmtpMailer(config)

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


# What a well-behaved server answers; "." is the end of a message's body.
REPLIES = {
    "EHLO": b"250-scripted\r\n250 SMTPUTF8",
    "HELO": b"250 scripted",
    "MAIL": b"250 ok",
    "RCPT": b"250 ok",
    "DATA": b"354 go ahead",
    ".": b"250 queued",
    "RSET": b"250 ok",
    "NOOP": b"250 ok",
    "QUIT": b"221 bye",
}
# (connection, command, its nth time on that connection), all counted from 0 and 1 respectively.
Turn = tuple[int, str, int]


class TranscribingServer:
    """A scripted server that writes down what each connection said and keeps the bodies it takes.

    ``replies`` changes the answer at one turn (None: hang up instead of answering); a 421 reply is followed
    by hanging up, as servers do. ``idle_timeout``: like a real server, drop a client silent that long.
    """

    def __init__(self, replies: dict[Turn, bytes | None] | None = None, idle_timeout: float | None = None):
        self.replies = replies or {}
        self.idle_timeout = idle_timeout
        self.sessions: list[list[str]] = []
        self.bodies: list[bytes] = []
        self.open = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number, said = len(self.sessions), list[str]()
        self.sessions.append(said)
        self.open += 1

        async def answer(command: str) -> bool:
            said.append(command)
            reply = self.replies.get(
                (number, command, said.count(command)), REPLIES.get(command, b"500 what")
            )
            if reply is None:
                return False
            writer.write(reply + b"\r\n")
            await writer.drain()
            return command != "QUIT" and not reply.startswith(b"421")

        try:
            writer.write(b"220 scripted ESMTP\r\n")
            while line := await asyncio.wait_for(reader.readline(), self.idle_timeout):
                command = line.split(b" ", 1)[0].strip().upper().decode()
                if not await answer(command):
                    break
                if command == "DATA":
                    self.bodies.append(await reader.readuntil(b"\r\n.\r\n"))
                    if not await answer("."):
                        break
        except TimeoutError:
            said.append("(dropped idle)")
            writer.write(b"421 4.4.2 scripted: idle too long, closing\r\n")
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open -= 1
            writer.close()

    async def none_open(self) -> bool:
        """Whether every connection is closed (waiting a moment for the last to be seen closing)."""
        for _ in range(50):
            if self.open == 0:
                return True
            await asyncio.sleep(0.02)
        return False


A_MESSAGE = ["MAIL", "RCPT", "DATA", "."]


def arrived(body: bytes) -> email.message.EmailMessage:
    """The e-mail as the server took it (dot-stuffing undone)."""
    parsed = email.message_from_bytes(body.replace(b"\r\n..", b"\r\n."), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


async def test_emails_sent_one_after_another_go_over_one_session_and_arrive_whole() -> None:
    server = TranscribingServer()
    async with scripted_server(server) as port:
        sender = mailer(port)
        sent = [notification() for _ in range(3)]

        outcomes = [await sender.deliver(n) for n in sent]
        await sender.close()

    assert all(isinstance(outcome, Accepted) for outcome in outcomes), outcomes
    assert server.sessions == [["EHLO", *A_MESSAGE * 3, "QUIT"]]
    mails = [arrived(body) for body in server.bodies]
    assert [mail["Message-ID"] for mail in mails] == [f"<notification.{n.id}@folio.example>" for n in sent]
    for mail in mails:
        plain = mail.get_body(preferencelist=("plain",))
        assert plain is not None
        assert plain.get_content().replace("\r\n", "\n") == DOTTED_TEXT


async def test_a_pooled_session_the_server_dropped_while_idle_does_not_refuse_the_next_email() -> None:
    server = TranscribingServer(idle_timeout=0.2)
    async with scripted_server(server) as port:
        sender = mailer(port)

        first = await sender.deliver(notification())
        await asyncio.sleep(0.5)  # the server drops the kept session meanwhile
        second = await sender.deliver(notification())
        await sender.close()

    assert (first, second) == (Accepted("250 queued"), Accepted("250 queued"))
    assert server.sessions == [["EHLO", *A_MESSAGE, "(dropped idle)"], ["EHLO", *A_MESSAGE, "QUIT"]]


async def test_a_pooled_session_lost_as_the_next_email_begins_is_retried_at_once_on_a_fresh_one() -> None:
    # The server hangs up as the second MAIL arrives: the race a pooled session can lose.
    server = TranscribingServer({(0, "MAIL", 2): None})
    async with scripted_server(server) as port:
        sender = mailer(port)

        first = await sender.deliver(notification())
        second = await sender.deliver(notification())

    assert (first, second) == (Accepted("250 queued"), Accepted("250 queued"))
    assert server.sessions == [["EHLO", *A_MESSAGE, "MAIL"], ["EHLO", *A_MESSAGE]]
    assert len(server.bodies) == 2


async def test_a_421_on_mail_of_a_reused_session_is_retried_once_on_a_fresh_one() -> None:
    server = TranscribingServer({(0, "MAIL", 2): b"421 4.4.2 closing: too many messages on this connection"})
    async with scripted_server(server) as port:
        sender = mailer(port)

        outcomes = [await sender.deliver(notification()) for _ in range(2)]

    assert outcomes == [Accepted("250 queued"), Accepted("250 queued")]
    assert server.sessions == [["EHLO", *A_MESSAGE, "MAIL"], ["EHLO", *A_MESSAGE]]


async def test_a_421_again_on_the_fresh_session_is_not_retried_again_but_refused_for_later() -> None:
    closing = b"421 4.3.2 shutting down"
    server = TranscribingServer({(0, "MAIL", 2): closing, (1, "MAIL", 1): closing})
    async with scripted_server(server) as port:
        sender = mailer(port)

        first = await sender.deliver(notification())
        second = await sender.deliver(notification())

    assert first == Accepted("250 queued")
    assert second == Refused("421 4.3.2 shutting down", 421, permanent=False)
    assert server.sessions == [["EHLO", *A_MESSAGE, "MAIL"], ["EHLO", "MAIL"]]


async def test_an_error_reply_before_data_on_a_reused_session_is_refused_as_on_a_fresh_one() -> None:
    server = TranscribingServer({(0, "RCPT", 2): b"450 4.2.1 mailbox busy"})
    async with scripted_server(server) as port:
        sender = mailer(port)

        first = await sender.deliver(notification())
        second = await sender.deliver(notification())
        third = await sender.deliver(notification())

    assert (first, third) == (Accepted("250 queued"), Accepted("250 queued"))
    assert second == Refused("450 4.2.1 mailbox busy", 450, permanent=False)
    # Not reused after the refusal: no half-finished transaction is ever carried on.
    assert server.sessions == [["EHLO", *A_MESSAGE, "MAIL", "RCPT", "QUIT"], ["EHLO", *A_MESSAGE]]


async def test_a_connection_lost_during_data_on_a_reused_session_is_unknown_and_never_retried() -> None:
    server = TranscribingServer({(0, ".", 2): None})  # hangs up once the second body is in
    async with scripted_server(server) as port:
        sender = mailer(port)

        first = await sender.deliver(notification())
        second = await sender.deliver(notification())

    assert first == Accepted("250 queued")
    assert isinstance(second, Unknown)
    assert second.reason.startswith("delivery unknown")
    assert server.sessions == [["EHLO", *A_MESSAGE * 2]]


async def test_a_session_idle_past_session_idle_is_not_reused_but_quit() -> None:
    server = TranscribingServer()
    async with scripted_server(server) as port:
        sender = mailer(port, session_idle=0.2)

        first = await sender.deliver(notification())
        kept_open = server.open
        await asyncio.sleep(0.4)
        second = await sender.deliver(notification())
        await sender.close()

    assert (first, second) == (Accepted("250 queued"), Accepted("250 queued"))
    assert kept_open == 1
    assert server.sessions == [["EHLO", *A_MESSAGE, "QUIT"], ["EHLO", *A_MESSAGE, "QUIT"]]


@pytest.mark.parametrize(
    ("per_session", "sessions"),
    [
        (1, [["EHLO", *A_MESSAGE, "QUIT"]] * 3),
        (2, [["EHLO", *A_MESSAGE * 2, "QUIT"], ["EHLO", *A_MESSAGE, "QUIT"]]),
    ],
)
async def test_a_session_carries_at_most_messages_per_session_emails(
    per_session: int, sessions: list[list[str]]
) -> None:
    server = TranscribingServer()
    async with scripted_server(server) as port:
        sender = mailer(port, messages_per_session=per_session)

        outcomes = [await sender.deliver(notification()) for _ in range(3)]
        await sender.close()

    assert all(isinstance(outcome, Accepted) for outcome in outcomes), outcomes
    assert server.sessions == sessions


async def test_close_quits_every_idle_session_and_leaves_no_connection_open() -> None:
    server = TranscribingServer()
    async with scripted_server(server) as port:
        sender = mailer(port, max_sessions=2)
        outcomes = await asyncio.gather(*(sender.deliver(notification()) for _ in range(2)))
        open_before = server.open

        await sender.close()

        assert await server.none_open()
    assert all(isinstance(outcome, Accepted) for outcome in outcomes), outcomes
    assert open_before == 2
    assert server.sessions == [["EHLO", *A_MESSAGE, "QUIT"]] * 2


async def test_a_non_ascii_address_goes_out_with_smtputf8_on_a_reused_session_too() -> None:
    async with SmtpSink(smtputf8=True) as sink:
        sender = mailer(sink.port)

        first = await sender.deliver(notification("ada@example.com"))
        kept_open = sink.handler.sessions_open
        second = await sender.deliver(notification("josé.müller@exämple.com"))
        await sender.close()

    assert isinstance(first, Accepted)
    assert isinstance(second, Accepted)
    # The first session stayed open and no second one was: the second e-mail went over the first.
    assert (kept_open, sink.sessions_peak) == (1, 1)
    assert [mail.rcpt_tos for mail in sink.messages] == [("ada@example.com",), ("josé.müller@exämple.com",)]


# STARTTLS, as a submission server on port 587 takes mail: a real server (aiosmtpd) with a certificate made
# for the test.
class Keeping:
    """aiosmtpd's handler: keeps each message, and whether its session had been upgraded to TLS."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, bool]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        self.received.append((content, session.ssl is not None))
        return "250 2.0.0 kept"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, which no system trusts."""
    directory = tmp_path_factory.mktemp("smtp-tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@contextlib.asynccontextmanager
async def starttls_server(certificate: tuple[Path, Path]) -> AsyncIterator[tuple[int, Keeping]]:
    """An SMTP server that takes mail only after STARTTLS, as a submission server on port 587 does."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    handler = Keeping()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, tls_context=context, require_starttls=True, hostname="tls.folio.test"),
        "127.0.0.1",
        0,
    )
    try:
        yield server.sockets[0].getsockname()[1], handler
    finally:
        server.close()
        await server.wait_closed()


def counting(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Counts the client TLS contexts made (the real ones: only the count is taken)."""
    made: list[object] = []
    real: Callable[..., ssl.SSLContext] = ssl.create_default_context

    def create_default_context(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", create_default_context)
    return made


async def test_sessions_over_starttls_share_one_tls_context_made_once(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    made = counting(monkeypatch)
    async with starttls_server(certificate) as (port, server):
        # A session per e-mail: three TLS handshakes, each of which would load the CA store again.
        config = SmtpConfig(
            port=port,
            tls="starttls",
            validate_certs=False,
            messages_per_session=1,
            local_hostname="folio.test",
        )
        mailer = SmtpMailer(config)
        outcomes = [await mailer.deliver(notification()) for _ in range(3)]
        await mailer.close()

    assert all(isinstance(outcome, Accepted) for outcome in outcomes), outcomes
    assert [over_tls for _, over_tls in server.received] == [True, True, True]
    assert len(made) == 1


async def test_a_certificate_no_one_trusts_is_refused_where_certificates_are_validated(
    certificate: tuple[Path, Path],
) -> None:
    async with starttls_server(certificate) as (port, server):
        config = SmtpConfig(port=port, tls="starttls", validate_certs=True, local_hostname="folio.test")
        mailer = SmtpMailer(config)
        outcome = await mailer.deliver(notification())
        await mailer.close()

    assert isinstance(outcome, Refused), outcome
    assert not outcome.permanent
    assert "certificate verify failed" in outcome.reason
    assert server.received == []
