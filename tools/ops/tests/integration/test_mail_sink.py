"""The SMTP sink as `make up` and the e2e tests use it: .eml files and a JSON list over HTTP."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from folio_ops.mail_sink import SmtpSink

pytestmark = pytest.mark.integration


def message(subject: str) -> email.message.EmailMessage:
    mail = email.message.EmailMessage()
    mail["From"] = "no-reply@folio.example"
    mail["To"] = "ada@example.com"
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{subject}@folio.example>"
    mail.set_content("hello")
    return mail


def files_in(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


async def test_received_mail_is_written_as_eml_files_and_listed_over_http(tmp_path: Path) -> None:
    async with SmtpSink(maildir=tmp_path / "mail", http_port=0) as sink:
        for subject in ("first", "second"):
            await aiosmtplib.send(message(subject), hostname="127.0.0.1", port=sink.port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sink.http_port}") as http:
            listing = (await http.get("/messages")).json()
            raw = await http.get("/messages/1")
            missing = await http.get("/messages/9")
            health = await http.get("/health")
            cleared = await http.delete("/messages")
            after = (await http.get("/messages")).json()

    assert [m["subject"] for m in listing] == ["first", "second"]
    assert listing[0]["rcpt_tos"] == ["ada@example.com"]
    assert listing[0]["message_id"] == "<first@folio.example>"
    assert raw.status_code == 200
    assert b"Subject: second" in raw.content
    assert missing.status_code == 404
    assert health.json() == {"status": "ok"}
    assert cleared.status_code == 200
    assert after == []
    assert files_in(tmp_path / "mail") == []


async def test_an_eml_file_holds_the_message_as_received(tmp_path: Path) -> None:
    async with SmtpSink(maildir=tmp_path) as sink:
        await aiosmtplib.send(message("kept"), hostname="127.0.0.1", port=sink.port)

    [file] = files_in(tmp_path)
    assert file.name == "00000-kept@folio.example.eml"
    parsed = email.message_from_bytes(file.read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "kept"
