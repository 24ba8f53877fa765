"""Passwords: where they come from, and the hashed forms PostgreSQL and RabbitMQ store.

Production sets ``FOLIO_<SERVICE>_DB_PASSWORD`` (the runtime role), ``FOLIO_<SERVICE>_MIGRATION_DB_PASSWORD``
and ``FOLIO_<SERVICE>_AMQP_PASSWORD``. A development setup (and only one that says so) gets a deterministic
password derived from the name instead, so that every developer's machine and every ``--print-env`` agree
without a secret store. Salts are derived from name and password, not random,
so exported files are reproducible (diffable, checkable for drift); they remain per-user and per-password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

SCRAM_ITERATIONS = 4096  # PostgreSQL's default scram_iterations
RABBIT_HASHING = "rabbit_password_hashing_sha256"


def password_for(service: str, name: str, kind: str, env: Mapping[str, str], *, dev: bool) -> str | None:
    """``kind`` is ``DB``, ``MIGRATION_DB`` or ``AMQP``: ``FOLIO_CATALOG_DB_PASSWORD``, else (``dev`` only)
    the development password of ``name``, else None."""
    given = env.get(f"FOLIO_{service.upper()}_{kind}_PASSWORD")
    if given:
        return given
    return dev_password(name) if dev else None


def dev_password(name: str) -> str:
    return f"{name}-dev"


def _salt(purpose: str, name: str, password: str, size: int) -> bytes:
    return hashlib.sha256(f"folio-bootstrap:{purpose}:{name}:{password}".encode()).digest()[:size]


def _scram_keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    # SASLprep is the identity for the ASCII passwords used here; PostgreSQL falls back to the raw bytes too.
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    return stored_key, server_key


def scram_verifier(role: str, password: str) -> str:
    """The ``SCRAM-SHA-256$...`` string PostgreSQL stores; accepted as is by ``CREATE ROLE ... PASSWORD``."""
    salt = _salt("postgres", role, password, 16)
    stored, server = _scram_keys(password, salt, SCRAM_ITERATIONS)
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt).decode()}${b64(stored).decode()}:{b64(server).decode()}"
    )


def postgres_password_matches(stored: str | None, role: str, password: str) -> bool:
    """Whether ``pg_authid.rolpassword`` (SCRAM or legacy md5) is ``password``'s."""
    if not stored:
        return False
    if stored.startswith("md5"):
        return hmac.compare_digest(stored, "md5" + hashlib.md5((password + role).encode()).hexdigest())
    try:
        method, rest = stored.split("$", 1)
        params, keys = rest.split("$", 1)
        iterations, salt_b64 = params.split(":", 1)
        stored_b64, server_b64 = keys.split(":", 1)
        if method != "SCRAM-SHA-256":
            return False
        stored_key, server_key = _scram_keys(password, base64.b64decode(salt_b64), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(stored_key, base64.b64decode(stored_b64)) and hmac.compare_digest(
        server_key, base64.b64decode(server_b64)
    )


def rabbit_password_hash(user: str, password: str) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt[4] + sha256(salt + password))."""
    salt = _salt("rabbitmq", user, password, 4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def rabbit_password_matches(password_hash: str, algorithm: str, password: str) -> bool:
    if algorithm != RABBIT_HASHING:
        return False
    try:
        raw = base64.b64decode(password_hash)
    except ValueError:
        return False
    salt, digest = raw[:4], raw[4:]
    return hmac.compare_digest(digest, hashlib.sha256(salt + password.encode()).digest())
