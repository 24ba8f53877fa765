"""The SMTP sink's command line, as `make up` (devstack) and people start it."""

from __future__ import annotations

from pathlib import Path

from folio_ops.mail_sink import parse_args


def test_the_sink_takes_long_and_short_spellings_of_its_port_and_directory() -> None:
    long = parse_args(["--smtp-port", "2525", "--maildir", "var/mail", "--http-port", "8026"])
    short = parse_args(["--host", "0.0.0.0", "--port", "2525", "--dir", "var/mail", "--http-port", "8026"])

    assert (long.smtp_port, long.maildir, long.http_port) == (2525, Path("var/mail"), 8026)
    assert (short.host, short.smtp_port, short.maildir) == ("0.0.0.0", 2525, Path("var/mail"))


def test_by_default_the_sink_listens_where_the_service_sends_and_keeps_mail_in_memory() -> None:
    args = parse_args([])

    assert (args.host, args.smtp_port, args.http_port) == ("127.0.0.1", 1025, 8025)
    assert args.maildir is None
    assert args.refuse_first == 0
