"""Password hashes in the forms PostgreSQL and RabbitMQ store and check."""

from __future__ import annotations

import base64
import hashlib
import re

from folio_ops.bootstrap.passwords import (
    RABBIT_HASHING,
    postgres_password_matches,
    rabbit_password_hash,
    rabbit_password_matches,
    scram_verifier,
)


def test_rabbit_hash_checks_rabbitmqs_documented_example() -> None:
    # https://www.rabbitmq.com/docs/passwords: salt 908DC60A, password test12.
    assert rabbit_password_matches(
        "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR", RABBIT_HASHING, "test12"
    )
    assert not rabbit_password_matches(
        "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR", RABBIT_HASHING, "x"
    )


def test_rabbit_hash_is_salted_sha256_and_reproducible() -> None:
    hashed = rabbit_password_hash("folio_catalog", "pw")
    raw = base64.b64decode(hashed)
    assert len(raw) == 4 + 32
    assert raw[4:] == hashlib.sha256(raw[:4] + b"pw").digest()
    assert hashed == rabbit_password_hash("folio_catalog", "pw")
    assert hashed != rabbit_password_hash("folio_rating", "pw")
    assert rabbit_password_matches(hashed, RABBIT_HASHING, "pw")
    assert not rabbit_password_matches(hashed, "rabbit_password_hashing_md5", "pw")


def test_scram_verifier_has_postgres_format_and_checks_its_password() -> None:
    verifier = scram_verifier("folio_catalog", "pw")
    assert re.fullmatch(
        r"SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}", verifier
    )
    assert verifier == scram_verifier("folio_catalog", "pw")
    assert postgres_password_matches(verifier, "folio_catalog", "pw")
    assert not postgres_password_matches(verifier, "folio_catalog", "other")


def test_legacy_md5_and_missing_passwords() -> None:
    md5 = "md5" + hashlib.md5(b"pwfolio_catalog").hexdigest()
    assert postgres_password_matches(md5, "folio_catalog", "pw")
    assert not postgres_password_matches(md5, "folio_catalog", "other")
    assert not postgres_password_matches(None, "folio_catalog", "pw")
    assert not postgres_password_matches("garbage", "folio_catalog", "pw")
