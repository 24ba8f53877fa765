"""Handing e-mails to an SMTP server (aiosmtplib), and telling a certain refusal from an unknown outcome.

The dialogue is driven step by step (connect, MAIL, RCPT, DATA) so that a failure can be placed: anything
that goes wrong before DATA, and any error reply, means the server did not take the message (``Refused``);
a timeout or a lost connection during DATA means the body may have been taken with the answer lost on the
way (``Unknown``: never tried again). A refusal is permanent for a 5xx reply (RFC 5321: do not repeat the
same request) and for an address the server cannot take; any other (no connection, a timeout, a 4xx reply
such as 421, 450, 451, 452 or 454) is transient. The ``Message-ID`` is derived from the notification id, so
every attempt carries the same one and a receiving MTA or client can drop a duplicate.

An address with non-ASCII characters goes out with ``SMTPUTF8`` (RFC 6531) when the server offers it and is
refused permanently, saying so, when it does not.

Sessions are kept open and reused, as mail clients under load do: connecting, the greeting, EHLO and QUIT
were a large share of a hand-off's CPU. At most ``max_sessions`` are open at once, in use or idle. A session
goes back to the pool only after the server accepted a message (so no half-finished transaction is ever
reused); it is left once idle for ``session_idle`` seconds or after ``messages_per_session`` messages. A
pooled session the server dropped while it was idle fails before DATA (a lost connection, a timeout, or 421:
the server is closing the channel): nothing was handed over, so the e-mail goes at once over a fresh session,
once, within the same deadline. A failure from DATA on is ``Unknown`` as on any session: never tried again.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import logging
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from functools import lru_cache
from typing import Literal
from uuid import UUID

from aiosmtplib import SMTP, SMTPResponseException, SMTPStatus
from aiosmtplib.email import flatten_message
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode

from chassis import continued_span
from notification.domain.delivery import Accepted, DeliveryOutcome, Refused, Unknown
from notification.domain.notification import Notification

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("notification.smtp")

TlsMode = Literal["none", "starttls", "tls"]
# Courtesy only: the outcome is known by then, so a slow QUIT must not hold the sender.
QUIT_TIMEOUT = 2.0
# Replies from 500 up are permanent: the same request would be refused again.
PERMANENT_CODES = 500


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 1025
    tls: TlsMode = "none"
    username: str | None = None
    password: str | None = None
    validate_certs: bool = True
    # Per command, and for the whole hand-off (kept below the sending lease and the worker's stop grace).
    command_timeout: float = 5.0
    deadline: float = 8.0
    # The From header, e.g. ``Folio <no-reply@folio.example>``; its address is also the envelope sender.
    sender: str = "Folio <no-reply@folio.example>"
    # Right-hand side of Message-IDs; the From address's domain when unset.
    message_id_domain: str | None = None
    # SMTP sessions open at once in this process, in use or idle (a hand-off uses one at a time).
    max_sessions: int = 4
    # An idle session is left after this many seconds (servers drop idle clients; RFC 5321 asks them to
    # wait five minutes, some wait far less), and after this many messages (relays cap them per connection).
    session_idle: float = 30.0
    messages_per_session: int = 100
    # The name this client gives in EHLO; the machine's fully qualified name, looked up once, when unset.
    local_hostname: str | None = None

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1] or self.sender

    @property
    def id_domain(self) -> str:
        if self.message_id_domain:
            return self.message_id_domain
        _, _, domain = self.sender_address.rpartition("@")
        return domain or "folio.invalid"


def message_id(notification_id: UUID, domain: str) -> str:
    """The same ``Message-ID`` for every attempt at one notification."""
    return f"<notification.{notification_id}@{domain}>"


class _HeaderClasses(HeaderRegistry):
    """The standard header classes, each made once: ``HeaderRegistry`` makes a new class (``type(...)``) for
    every header it parses, which was a fifth of the time spent building an e-mail."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


# SMTP's policy (CRLF line ends), with the header classes above.
POLICY = email.policy.SMTP.clone(header_factory=_HeaderClasses())


@lru_cache(maxsize=8)
def _fixed_headers(sender: str) -> tuple[BaseHeader, BaseHeader]:
    """From and Auto-Submitted, the same in every e-mail of one sender: parsed once (an address header is
    the costliest to parse)."""
    # RFC 3834: an automatic message, so auto-responders stay quiet.
    return POLICY.header_factory("From", sender), POLICY.header_factory("Auto-Submitted", "auto-generated")


def build_email(notification: Notification, config: SmtpConfig) -> EmailMessage:
    content = notification.content
    message = EmailMessage(policy=POLICY)
    sender, auto_submitted = _fixed_headers(config.sender)
    message["From"] = sender
    message["To"] = notification.recipient
    message["Subject"] = content.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(notification.id, config.id_domain)
    message["Auto-Submitted"] = auto_submitted
    message["X-Folio-Notification-Id"] = str(notification.id)
    message["X-Folio-Source-Message-Id"] = str(notification.source_message_id)
    message["X-Folio-Template"] = notification.template
    # Quoted-printable keeps every line 7-bit, so servers without 8BITMIME take it as is.
    message.set_content(content.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(content.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


def tls_context(validate_certs: bool) -> ssl.SSLContext:
    """The client's TLS context, as aiosmtplib would build it: the system's CA certificates, checked unless
    ``validate_certs`` is off.

    aiosmtplib builds one for every connection it is not given one for, loading the CA store each time: with
    STARTTLS that was ~33 ms CPU per session (`bench/smtp_handoff_cpu.py --tls starttls`), more than the
    rest of an order's processing. Made once per mailer instead.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.check_hostname = validate_certs
    context.verify_mode = ssl.CERT_REQUIRED if validate_certs else ssl.CERT_NONE
    return context


NO_SMTPUTF8 = "the address {address!r} has non-ASCII characters and the mail server does not offer SMTPUTF8"


@dataclass(eq=False, slots=True)
class _Session:
    """One SMTP connection, and what the pool needs to know of it: how many messages the server accepted over
    it (one or more: it came from the pool), since when it waits in the pool (monotonic seconds), and whether
    DATA was sent (from then on the server may hold the message, so it is never sent again)."""

    client: SMTP
    messages: int = 0
    idle_since: float = 0.0
    in_data: bool = False

    @property
    def reused(self) -> bool:
        return self.messages > 0


def _dropped_while_idle(session: _Session, error: Exception) -> bool:
    """Whether ``error`` is how a pooled session that the server dropped while idle fails before DATA."""
    if not session.reused or session.in_data:
        return False
    if isinstance(error, SMTPResponseException):
        # An answer, not a dead socket; but with 421 the server says it is closing the channel (RFC 5321),
        # as servers do with clients idle too long or over a limit.
        return error.code == SMTPStatus.domain_unavailable
    # A lost connection (SMTPServerDisconnected is a ConnectionError) or a command's timeout.
    return isinstance(error, ConnectionError | TimeoutError)


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}".rstrip(": ")


def _not_accepted(error: Exception, *, in_data: bool) -> DeliveryOutcome:
    if isinstance(error, SMTPResponseException):
        # An answer with an error code, at whatever step: the server holds no copy.
        reason = f"{error.code} {error.message}".strip()
        return Refused(reason, error.code, permanent=error.code >= PERMANENT_CODES)
    reason = _describe(error)
    if in_data:
        return Unknown(f"delivery unknown: the connection failed during DATA ({reason})")
    return Refused(f"not handed over: {reason}")


class SmtpMailer:
    """The sender's port to the mail server: sessions kept open and reused, at most ``max_sessions`` at once.

    Idle sessions wait in a pool, the most recently used taken first; ``close()`` ends them, for a worker
    that stops.
    """

    def __init__(self, config: SmtpConfig, *, tracer: trace.Tracer | None = None) -> None:
        if config.max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        if config.messages_per_session < 1:
            raise ValueError("messages_per_session must be at least 1")
        if config.session_idle <= 0:
            raise ValueError("session_idle must be more than 0")
        self.config = config
        self._tracer = tracer or _tracer
        self._sessions = asyncio.Semaphore(config.max_sessions)
        self._local_hostname = config.local_hostname
        self._tls: ssl.SSLContext | None = None
        # Concurrent first hand-offs share one lookup of the name and one TLS context.
        self._preparing = asyncio.Lock()
        # Connected sessions no hand-off is using, the most recently used last. A session is only ever here
        # or with the one hand-off holding a semaphore slot, so no more than max_sessions are open.
        self._idle: list[_Session] = []
        self._closed = False

    @property
    def sessions(self) -> int:
        return self.config.max_sessions

    async def close(self) -> None:
        """QUIT and close every idle session (all at once, each within QUIT_TIMEOUT); none is kept after."""
        self._closed = True
        idle, self._idle = self._idle, []
        await self._close_all(idle)

    async def _ehlo_name(self) -> str:
        # aiosmtplib looks the name up for every session otherwise: a reverse lookup in a thread, each
        # hand-off waiting on the resolver (seconds, when DNS is failing) inside its deadline.
        async with self._preparing:
            if self._local_hostname is None:
                self._local_hostname = await asyncio.to_thread(socket.getfqdn)
            return self._local_hostname

    async def _tls_context(self) -> ssl.SSLContext | None:
        if self.config.tls == "none":
            return None
        async with self._preparing:
            if self._tls is None:
                # Reading the CA store is file I/O and tens of milliseconds: not on the event loop.
                self._tls = await asyncio.to_thread(tls_context, self.config.validate_certs)
            return self._tls

    def _client(self) -> SMTP:
        config = self.config
        return SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            timeout=config.command_timeout,
            use_tls=config.tls == "tls",
            start_tls=config.tls == "starttls",
            validate_certs=config.validate_certs,
        )

    async def deliver(self, notification: Notification) -> DeliveryOutcome:
        # Waiting for a session does not count against the hand-off's deadline, nor is it in the span.
        async with self._sessions:
            # A child of the handler that recorded the notification: the e-mail is the end of its trace.
            with continued_span(
                self._tracer,
                "smtp send",
                notification.traceparent,
                kind=SpanKind.CLIENT,
                attributes={
                    "folio.notification.id": str(notification.id),
                    "folio.notification.template": notification.template,
                    "folio.notification.attempt": notification.attempts,
                    "folio.order.id": str(notification.order_id),
                    "server.address": self.config.host,
                    "server.port": self.config.port,
                },
            ) as span:
                outcome = await self._deliver(notification, span)
                span.set_attribute("folio.notification.outcome", type(outcome).__name__.lower())
                if not isinstance(outcome, Accepted):
                    span.set_status(StatusCode.ERROR, outcome.reason)
                return outcome

    async def _deliver(self, notification: Notification, span: Span) -> DeliveryOutcome:
        message = build_email(notification, self.config)
        session, stale = self._checkout()
        outcome: DeliveryOutcome | None = None
        try:
            async with asyncio.timeout(self.config.deadline):
                # Before a new session may be opened, so that no more than max_sessions are; inside the
                # deadline, so that a hand-off takes no longer than when every e-mail had its own session.
                await self._close_all(stale)
                try:
                    outcome = await self._transaction(session, notification, message)
                except Exception as error:
                    if not _dropped_while_idle(session, error):
                        raise
                    # Nothing was handed over: not the message's fault, so it goes at once (and only once)
                    # over a fresh session, within the same deadline.
                    self._dropped(session, error, span)
                    session = _Session(self._client())
                    outcome = await self._transaction(session, notification, message)
        except Exception as error:
            outcome = _not_accepted(error, in_data=session.in_data)
        finally:
            span.set_attribute("folio.smtp.session_reused", session.reused)
            await self._check_in(session, accepted=isinstance(outcome, Accepted))
        return outcome

    async def _transaction(
        self, session: _Session, notification: Notification, message: EmailMessage
    ) -> DeliveryOutcome:
        """The e-mail over ``session`` (connected first when new): MAIL, RCPT, DATA; raises what SMTP does."""
        client = session.client
        sender, recipient = self.config.sender_address, notification.recipient
        utf8 = not (sender + recipient).isascii()
        encoding = "utf-8" if utf8 else "ascii"
        if not session.reused:
            # The first name lookup and TLS context inside the deadline too: should either hang, this
            # hand-off alone is refused (to be retried).
            await client.connect(
                local_hostname=await self._ehlo_name(), tls_context=await self._tls_context()
            )
        if utf8:
            # A reused session still holds its EHLO answer: aiosmtplib forgets it only when it disconnects.
            if client.is_ehlo_or_helo_needed:
                await client.ehlo()
            if not client.supports_extension("smtputf8"):
                address = recipient if not recipient.isascii() else sender
                return Refused(NO_SMTPUTF8.format(address=address), permanent=True)
        await client.mail(sender, options=["SMTPUTF8"] if utf8 else None, encoding=encoding)
        await client.rcpt(recipient, encoding=encoding)
        session.in_data = True
        # Quoted-printable bodies stay 7-bit; only SMTPUTF8 headers carry raw UTF-8.
        reply = await client.data(flatten_message(message, utf8=utf8, cte_type="7bit"))
        log.info("notification %s accepted by %s:%d", notification.id, self.config.host, self.config.port)
        return Accepted(f"{reply.code} {reply.message}".strip())

    def _checkout(self) -> tuple[_Session, list[_Session]]:
        """The most recently used idle session, or a new one (not yet connected); and the idle sessions to
        close, idle for too long (those the server dropped are closed already, by aiosmtplib)."""
        now = time.monotonic()
        fit: list[_Session] = []
        stale: list[_Session] = []
        for idle in self._idle:
            if idle.client.is_connected:
                (fit if now - idle.idle_since < self.config.session_idle else stale).append(idle)
        self._idle = fit
        return (fit.pop() if fit else _Session(self._client())), stale

    async def _check_in(self, session: _Session, *, accepted: bool) -> None:
        """Back to the pool after an accepted message, unless that was its last; closed after anything else,
        so that no half-finished SMTP transaction is ever reused."""
        if accepted:
            session.messages += 1
            if (
                session.messages < self.config.messages_per_session
                and session.client.is_connected
                and not self._closed
            ):
                session.idle_since, session.in_data = time.monotonic(), False
                self._idle.append(session)
                return
        await self._close(session.client)

    def _dropped(self, session: _Session, error: Exception, span: Span) -> None:
        reason = _describe(error)
        config = self.config
        log.info(
            "SMTP session to %s:%d lost while idle (%s); using a new one", config.host, config.port, reason
        )
        span.add_event(
            "smtp session lost while idle", {"reason": reason, "folio.smtp.messages": session.messages}
        )
        # No QUIT: the server is gone or going (aiosmtplib has closed the connection already, on most paths).
        session.client.close()

    @classmethod
    async def _close_all(cls, sessions: Iterable[_Session]) -> None:
        await asyncio.gather(*(cls._close(session.client) for session in sessions))

    @staticmethod
    async def _close(client: SMTP) -> None:
        if not client.is_connected:
            return
        try:
            with contextlib.suppress(Exception):
                await client.quit(timeout=QUIT_TIMEOUT)
        finally:
            # Closed even when the hand-off is cancelled during QUIT (a stale session closed in its deadline).
            client.close()
