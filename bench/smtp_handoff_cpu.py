"""CPU of an e-mail's hand-off in the notification worker's process (not a test).

    .venv/bin/python bench/smtp_handoff_cpu.py [--emails 500] [--rounds 3] [--tls none|starttls]
                                               [--messages-per-session 100]

Renders an order-confirmed e-mail as the recording handler does, then hands e-mails to a mail sink
(aiosmtpd's ``Sink``, in a process of its own so that its CPU is not counted here) through ``SmtpMailer``,
``max_sessions`` at a time, as the sender does. Prints this process's CPU per e-mail (``time.process_time``)
for building and flattening the message alone, and for the whole hand-off, each round on its own. A round's
mailer keeps its sessions open and reuses them, as the sender does: each of its ``max_sessions`` sessions is
opened once (connect, EHLO), carries MAIL, RCPT and DATA for up to ``messages_per_session`` e-mails (100),
and is QUIT when the round closes the mailer, which is counted too. ``--messages-per-session 1`` is one
session per e-mail (connect, EHLO, MAIL, RCPT, DATA, QUIT), as before sessions were reused. ``--tls starttls``
puts the sink behind STARTTLS with a self-signed certificate made for the run (``openssl``), as a
submission server on port 587 is: each new session then pays a TLS handshake.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from uuid import uuid4

import uvloop
from aiosmtplib.email import flatten_message

from contracts.examples import example
from contracts.ordering import OrderConfirmed
from notification.adapters import templates
from notification.adapters.message_mapping import email_request
from notification.adapters.smtp import SmtpConfig, SmtpMailer, TlsMode, build_email
from notification.domain.delivery import Accepted
from notification.domain.notification import Notification
from testkit.ports import free_port


def order_confirmed() -> Notification:
    """An e-mail as the recording handler makes one, from the contracts' example OrderConfirmed."""
    event = example(OrderConfirmed)
    request = email_request(event)
    return Notification.record(
        notification_id=uuid4(),
        source_message_id=uuid4(),
        source_type=OrderConfirmed.TYPE,
        order_id=event.order_id,
        customer_id="bench",
        recipient="reader@example.com",
        template=request.template,
        content=templates.render(request.template, request.context),
        at=datetime.now(UTC),
    )


def build_cpu(config: SmtpConfig, count: int) -> float:
    notification = order_confirmed()
    began = time.process_time()
    for _ in range(count):
        flatten_message(build_email(notification, config), utf8=False, cte_type="7bit")
    return (time.process_time() - began) / count


async def handoff_cpu(config: SmtpConfig, count: int) -> float:
    mailer = SmtpMailer(config)
    notifications = [order_confirmed() for _ in range(count)]
    began = time.process_time()
    try:
        outcomes = await asyncio.gather(*(mailer.deliver(n) for n in notifications))
    finally:
        await mailer.close()
    spent = time.process_time() - began
    refused = [o for o in outcomes if not isinstance(o, Accepted)]
    if refused:
        raise SystemExit(f"the sink did not take every e-mail: {refused[:3]}")
    return spent / count


@contextmanager
def sink_arguments(tls: TlsMode) -> Iterator[list[str]]:
    """aiosmtpd's arguments for ``tls``: STARTTLS with a throwaway self-signed certificate, or none."""
    if tls == "none":
        yield []
        return
    if tls != "starttls":
        raise SystemExit(f"--tls {tls} is not measured here: none or starttls")
    with tempfile.TemporaryDirectory(prefix="folio-smtp-bench-") as directory:
        cert, key = f"{directory}/cert.pem", f"{directory}/key.pem"
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
                *("-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"),
            ],
            check=True,
            capture_output=True,
        )
        yield ["--tlscert", cert, "--tlskey", key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tls", choices=("none", "starttls"), default="none")
    parser.add_argument("--messages-per-session", type=int, default=SmtpConfig().messages_per_session)
    args = parser.parse_args()

    with sink_arguments(args.tls) as tls_arguments:
        measure(args, tls_arguments)


def measure(args: argparse.Namespace, tls_arguments: list[str]) -> None:
    port = free_port()
    sink = subprocess.Popen(
        [
            *(sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"),
            *("-c", "aiosmtpd.handlers.Sink"),
            *tls_arguments,
        ]
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        config = SmtpConfig(
            port=port,
            tls=args.tls,
            validate_certs=False,  # the run's own self-signed certificate
            messages_per_session=args.messages_per_session,
        )
        uvloop.run(handoff_cpu(config, 20))  # warm-up: imports, templates, first connections
        for round_ in range(1, args.rounds + 1):
            build = build_cpu(config, args.emails)
            whole = uvloop.run(handoff_cpu(config, args.emails))
            print(
                f"round {round_}: build+flatten {build * 1e6:,.0f} µs CPU/e-mail, "
                f"whole hand-off {whole * 1e6:,.0f} µs CPU/e-mail ({args.emails} e-mails)"
            )
    finally:
        sink.terminate()
        sink.wait(10)


if __name__ == "__main__":
    main()
