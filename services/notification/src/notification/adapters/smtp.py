"""Handing e-mails to an SMTP server (aiosmtplib), and telling a certain refusal from an unknown outcome.

The dialogue is driven step by step (connect, MAIL, RCPT, DATA) so that a failure can be placed: anything
that goes wrong before DATA, and any error reply, means the server did not take the message (``Refused``);
a timeout or a lost connection during DATA means the body may have been taken with the answer lost on the
way (``Unknown``: never tried again). A refusal is permanent for a 5xx reply (RFC 5321: do not repeat the
same request) and for an address the server cannot take; any other (no connection, a timeout, a 4xx reply
such as 421, 450, 451, 452 or 454) is transient. The ``Message-ID`` is derived from the notification id, so
every attempt carries the same one and a receiving MTA or client can drop a duplicate.

An address with non-ASCII characters goes out with ``SMTPUTF8`` (RFC 6531) when the server offers it and is
refused permanently, saying so, when it does not. At most ``max_sessions`` SMTP sessions are open at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import logging
import socket
from dataclasses import dataclass
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from functools import lru_cache
from typing import Literal
from uuid import UUID

from aiosmtplib import SMTP, SMTPResponseException
from aiosmtplib.email import flatten_message
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

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
    # SMTP sessions open at once in this process (each hand-off is one session).
    max_sessions: int = 4
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


NO_SMTPUTF8 = "the address {address!r} has non-ASCII characters and the mail server does not offer SMTPUTF8"


class SmtpMailer:
    """The sender's port to the mail server: one session per e-mail, at most ``max_sessions`` at once."""

    def __init__(self, config: SmtpConfig, *, tracer: trace.Tracer | None = None) -> None:
        if config.max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self.config = config
        self._tracer = tracer or _tracer
        self._sessions = asyncio.Semaphore(config.max_sessions)
        self._local_hostname = config.local_hostname
        self._naming = asyncio.Lock()

    @property
    def sessions(self) -> int:
        return self.config.max_sessions

    async def _ehlo_name(self) -> str:
        # aiosmtplib looks the name up for every session otherwise: a reverse lookup in a thread, each
        # hand-off waiting on the resolver (seconds, when DNS is failing) inside its deadline.
        async with self._naming:
            if self._local_hostname is None:
                self._local_hostname = await asyncio.to_thread(socket.getfqdn)
            return self._local_hostname

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
                outcome = await self._deliver(notification)
                span.set_attribute("folio.notification.outcome", type(outcome).__name__.lower())
                if not isinstance(outcome, Accepted):
                    span.set_status(StatusCode.ERROR, outcome.reason)
                return outcome

    async def _deliver(self, notification: Notification) -> DeliveryOutcome:
        message = build_email(notification, self.config)
        sender, recipient = self.config.sender_address, notification.recipient
        utf8 = not (sender + recipient).isascii()
        encoding = "utf-8" if utf8 else "ascii"
        client = self._client()
        in_data = False
        try:
            async with asyncio.timeout(self.config.deadline):
                # The first lookup inside the deadline too: a resolver that hangs refuses this hand-off only.
                await client.connect(local_hostname=await self._ehlo_name())
                if utf8:
                    if client.is_ehlo_or_helo_needed:
                        await client.ehlo()
                    if not client.supports_extension("smtputf8"):
                        address = recipient if not recipient.isascii() else sender
                        return Refused(NO_SMTPUTF8.format(address=address), permanent=True)
                await client.mail(sender, options=["SMTPUTF8"] if utf8 else None, encoding=encoding)
                await client.rcpt(recipient, encoding=encoding)
                in_data = True
                # Quoted-printable bodies stay 7-bit; only SMTPUTF8 headers carry raw UTF-8.
                reply = await client.data(flatten_message(message, utf8=utf8, cte_type="7bit"))
        except SMTPResponseException as refused:
            # An answer with an error code, at whatever step: the server holds no copy.
            reason = f"{refused.code} {refused.message}".strip()
            return Refused(reason, refused.code, permanent=refused.code >= PERMANENT_CODES)
        except Exception as error:
            reason = f"{type(error).__name__}: {error}".rstrip(": ")
            if in_data:
                return Unknown(f"delivery unknown: the connection failed during DATA ({reason})")
            return Refused(f"not handed over: {reason}")
        finally:
            await self._close(client)
        log.info("notification %s accepted by %s:%d", notification.id, self.config.host, self.config.port)
        return Accepted(f"{reply.code} {reply.message}".strip())

    @staticmethod
    async def _close(client: SMTP) -> None:
        if not client.is_connected:
            return
        with contextlib.suppress(Exception):
            await client.quit(timeout=QUIT_TIMEOUT)
        client.close()
