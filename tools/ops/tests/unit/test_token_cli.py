from __future__ import annotations

import pytest

from chassis.auth import TokenVerifier
from folio_ops.token_cli import SECRET_ENV, main

SECRET = "a-local-development-secret-of-32+bytes"


def test_mint_prints_a_token_the_services_accept(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "mint",
        "--subject",
        "alice",
        "--email",
        "alice@example.com",
        "--role",
        "customer",
        "--role",
        "admin",
    ]
    assert main([*argv, "--secret", SECRET, "--ttl", "60"]) == 0
    token = capsys.readouterr().out.strip()
    caller = TokenVerifier(local_secret=SECRET, issuer="folio-local", audience="folio").verify(token)
    assert (caller.subject, caller.email) == ("alice", "alice@example.com")
    assert caller.roles == {"customer", "admin"}


def test_mint_reads_the_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    assert main(["mint", "--subject", "bob"]) == 0
    assert TokenVerifier(local_secret=SECRET).verify(capsys.readouterr().out.strip()).subject == "bob"


def test_mint_without_a_secret_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    assert main(["mint", "--subject", "bob"]) == 2
    assert SECRET_ENV in capsys.readouterr().err
    assert main(["mint", "--subject", "bob", "--secret", "short"]) == 2
    assert "32 bytes" in capsys.readouterr().err


def test_secret_prints_a_usable_secret(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["secret"]) == 0
    secret = capsys.readouterr().out.strip()
    assert main(["mint", "--subject", "carol", "--secret", secret]) == 0
