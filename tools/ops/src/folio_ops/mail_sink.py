"""A real SMTP server that keeps every e-mail it receives: the mail sink for development, e2e and tests.

Run it as its own process::

    python -m folio_ops.mail_sink --smtp-port 1025 --http-port 8025 --maildir var/mail

(``--port`` and ``--dir`` are accepted for ``--smtp-port`` and ``--maildir``.)

Each accepted e-mail is kept in memory and, with ``--maildir``, written there as ``<n>-<message-id>.eml``.
A tiny HTTP server (``--http-port``) lets scripts and tests read them:

- ``GET /messages``: a JSON list (sender, recipients, subject, Message-ID, Folio headers, size, time);
- ``GET /messages/<number>``: the raw ``.eml`` of one (numbered from 0, as listed);
- ``DELETE /messages``: forget them all (files included);
- ``GET /health``: ``{"status": "ok"}``.

``--refuse-first N`` answers the first N messages with ``451 4.3.0`` (a temporary refusal), to watch the
service retry; tests call :meth:`SmtpSink.refuse_next` for the same. The sink offers SMTPUTF8 (RFC 6531),
so addresses with non-ASCII characters arrive as they are (``smtputf8=False`` plays a server without it),
and counts the SMTP sessions open at once (``sessions_peak``; ``answer_delay`` holds each message a while).
It needs ``aiosmtpd`` (a development dependency): the service itself never imports this module.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import functools
import json
import logging
import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger("folio_ops.mail_sink")

TEMPORARY_REFUSAL = "451 4.3.0 Mail sink refuses for now; try again later"
ACCEPTED = "250 2.0.0 Message accepted"
HOSTNAME = "folio-smtp-sink"
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._@-]+")


# Not slotted: the parsed message and its summary are cached on the instance. Tests poll the listing many
# times a second while hundreds of e-mails pile up; parsing them all on every poll took most of a core.
@dataclass(frozen=True)
class ReceivedMail:
    number: int
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    received_at: datetime
    path: Path | None = None

    @functools.cached_property
    def message(self) -> email.message.EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed

    def header(self, name: str) -> str | None:
        value = self.message[name]
        return str(value) if value is not None else None

    def part(self, subtype: str) -> str:
        """The text of the ``text/<subtype>`` part (``plain`` or ``html``)."""
        body = self.message.get_body(preferencelist=(subtype,))
        if body is None or body.get_content_subtype() != subtype:
            raise LookupError(f"no text/{subtype} part")
        content = body.get_content()
        assert isinstance(content, str)
        return content

    def summary(self) -> dict[str, Any]:
        return dict(self._summary)

    @functools.cached_property
    def _summary(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "mail_from": self.mail_from,
            "rcpt_tos": list(self.rcpt_tos),
            "subject": self.header("Subject"),
            "message_id": self.header("Message-ID"),
            "notification_id": self.header("X-Folio-Notification-Id"),
            "source_message_id": self.header("X-Folio-Source-Message-Id"),
            "template": self.header("X-Folio-Template"),
            "size": len(self.data),
            "received_at": self.received_at.isoformat().replace("+00:00", "Z"),
            "file": str(self.path) if self.path else None,
        }


@dataclass
class SinkHandler:
    """aiosmtpd's handler: refuses while refusals are queued, then keeps what it accepts."""

    maildir: Path | None = None
    refusals: list[str] = field(default_factory=list)
    received: list[ReceivedMail] = field(default_factory=list)
    refused: int = 0
    arrived: asyncio.Condition | None = None
    # Numbers go on after the files a previous run left, so that none is overwritten.
    next_number: int = 0
    # Seconds each message is held before the answer, so that concurrent sessions overlap visibly.
    answer_delay: float = 0.0
    sessions_open: int = 0
    sessions_peak: int = 0

    def __post_init__(self) -> None:
        if self.maildir is not None:
            self.next_number = len(list(self.maildir.glob("*.eml")))

    def session_opened(self) -> None:
        self.sessions_open += 1
        self.sessions_peak = max(self.sessions_peak, self.sessions_open)

    def session_closed(self) -> None:
        self.sessions_open -= 1

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.answer_delay:
            await asyncio.sleep(self.answer_delay)
        if self.refusals:
            self.refused += 1
            reply = self.refusals.pop(0)
            log.info("refusing a message for %s: %s", envelope.rcpt_tos, reply)
            return reply
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode()
        number = self.next_number
        self.next_number += 1
        path = await asyncio.to_thread(self._store, number, data)
        mail = ReceivedMail(
            number=number,
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=data,
            received_at=datetime.now(UTC),
            path=path,
        )
        self.received.append(mail)
        log.info("accepted message %d for %s: %s", number, mail.rcpt_tos, mail.header("Subject"))
        if self.arrived is not None:
            async with self.arrived:
                self.arrived.notify_all()
        return ACCEPTED

    def _store(self, number: int, data: bytes) -> Path | None:
        if self.maildir is None:
            return None
        message_id = email.message_from_bytes(data).get("Message-ID", "") or "no-id"
        name = _UNSAFE_FILE_CHARS.sub("_", message_id.strip("<> "))[:120]
        path = self.maildir / f"{number:05d}-{name}.eml"
        path.write_bytes(data)
        return path

    def clear(self) -> None:
        for mail in self.received:
            if mail.path is not None:
                mail.path.unlink(missing_ok=True)
        self.received.clear()


class _CountingSMTP(SMTP):
    """aiosmtpd's server protocol, telling the handler when a session opens and closes."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.event_handler.session_opened()

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self.event_handler.session_closed()


class SmtpSink:
    """The sink in the running event loop: ``await start()``, read ``messages``, ``await stop()``.

    ``port=0`` picks a free port (read ``port`` after start); ``http_port`` (0 too) serves the JSON list.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        maildir: Path | None = None,
        http_port: int | None = None,
        smtputf8: bool = True,
        answer_delay: float = 0.0,
    ) -> None:
        if maildir is not None:
            maildir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.smtputf8 = smtputf8
        self._requested_port = port
        self._requested_http_port = http_port
        self.handler = SinkHandler(maildir=maildir, answer_delay=answer_delay)
        self._smtp: asyncio.Server | None = None
        self._http: asyncio.Server | None = None

    @property
    def messages(self) -> list[ReceivedMail]:
        return list(self.handler.received)

    @property
    def refused(self) -> int:
        """How many messages were refused so far."""
        return self.handler.refused

    @property
    def sessions_peak(self) -> int:
        """The most SMTP sessions that were open at once."""
        return self.handler.sessions_peak

    @property
    def port(self) -> int:
        return _bound_port(self._smtp)

    @property
    def http_port(self) -> int:
        return _bound_port(self._http)

    def refuse_next(self, count: int, reply: str = TEMPORARY_REFUSAL) -> None:
        """Answer the next ``count`` messages with ``reply`` (a 4xx or 5xx SMTP reply line)."""
        self.handler.refusals.extend([reply] * count)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.handler.arrived = asyncio.Condition()
        handler, smtputf8 = self.handler, self.smtputf8

        def protocol() -> SMTP:
            return _CountingSMTP(handler, hostname=HOSTNAME, enable_SMTPUTF8=smtputf8, loop=loop)

        self._smtp = await loop.create_server(protocol, self.host, self._requested_port)
        if self._requested_http_port is not None:
            self._http = await asyncio.start_server(self._serve_http, self.host, self._requested_http_port)
        log.info("SMTP sink on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        for server in (self._http, self._smtp):
            if server is not None:
                server.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 2)
        self._http = self._smtp = None

    async def __aenter__(self) -> SmtpSink:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def wait_for(self, count: int, *, within: float = 20.0) -> list[ReceivedMail]:
        """Wait until at least ``count`` messages arrived; raises ``TimeoutError`` otherwise."""
        arrived = self.handler.arrived
        if arrived is None:
            raise RuntimeError("the sink is not started")
        async with asyncio.timeout(within), arrived:
            await arrived.wait_for(lambda: len(self.handler.received) >= count)
        return self.messages

    async def _serve_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            method, target = _request_line(request)
            status, content_type, body = self._answer(method, target)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            status, content_type, body = 400, "application/json", b'{"error": "bad request"}'
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    def _answer(self, method: str, target: str) -> tuple[int, str, bytes]:
        path = target.split("?", 1)[0].rstrip("/")
        if method == "GET" and path == "/health":
            return 200, "application/json", b'{"status": "ok"}'
        if method == "GET" and path == "/messages":
            listing = [mail.summary() for mail in self.handler.received]
            return 200, "application/json", json.dumps(listing).encode()
        if method == "DELETE" and path == "/messages":
            self.handler.clear()
            return 200, "application/json", b"[]"
        match = re.fullmatch(r"/messages/(\d+)", path)
        if method == "GET" and match:
            number = int(match.group(1))
            for mail in self.handler.received:
                if mail.number == number:
                    return 200, "message/rfc822", mail.data
        return 404, "application/json", b'{"error": "not found"}'


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found"}


def _request_line(request: bytes) -> tuple[str, str]:
    first = request.split(b"\r\n", 1)[0].decode("latin-1")
    method, target, _version = first.split(" ", 2)
    return method.upper(), target


def _bound_port(server: asyncio.Server | None) -> int:
    if server is None or not server.sockets:
        raise RuntimeError("the server is not started")
    port: int = server.sockets[0].getsockname()[1]
    return port


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    description = (__doc__ or "").splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m folio_ops.mail_sink", description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--smtp-port", "--port", type=int, default=1025, help="SMTP port (default 1025)")
    parser.add_argument("--http-port", type=int, default=8025, help="JSON list port (default 8025; -1: none)")
    parser.add_argument("--maildir", "--dir", type=Path, default=None, help="where to write .eml files")
    parser.add_argument("--refuse-first", type=int, default=0, help="answer the first N messages with 451")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    sink = SmtpSink(
        host=args.host,
        port=args.smtp_port,
        maildir=args.maildir,
        http_port=None if args.http_port < 0 else args.http_port,
    )
    sink.refuse_next(args.refuse_first)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with sink:
        http = f", HTTP on {args.host}:{sink.http_port}" if args.http_port >= 0 else ""
        print(f"SMTP sink on {args.host}:{sink.port}{http}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # aiosmtpd logs every SMTP command at INFO.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
