"""Local HS256 tokens for development, tests and the demo (production tokens come from an OIDC issuer)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import jwt

LOCAL_ALGORITHM = "HS256"
LOCAL_ISSUER = "folio-local"
LOCAL_AUDIENCE = "folio"
# RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
MIN_SECRET_BYTES = 32


def check_local_secret(secret: str) -> bytes:
    key = secret.encode()
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(
            f"the local token secret must be at least {MIN_SECRET_BYTES} bytes long "
            "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    return key


def mint_local_token(
    secret: str,
    subject: str,
    email: str | None = None,
    roles: Iterable[str] = (),
    ttl: float | timedelta = 3600,
    issuer: str | None = LOCAL_ISSUER,
    audience: str | None = LOCAL_AUDIENCE,
    *,
    extra_claims: dict[str, Any] | None = None,
) -> str:
    """An HS256 JWT for ``subject`` that a verifier configured with the same secret accepts.

    A negative ``ttl`` gives an already expired token (useful in tests).
    """
    key = check_local_secret(secret)
    lifetime = ttl.total_seconds() if isinstance(ttl, timedelta) else float(ttl)
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "iat": now,
        "exp": now + int(lifetime),
        "roles": sorted(set(roles)),
    }
    if email is not None:
        claims["email"] = email
    if issuer is not None:
        claims["iss"] = issuer
    if audience is not None:
        claims["aud"] = audience
    claims.update(extra_claims or {})
    return jwt.encode(claims, key, algorithm=LOCAL_ALGORITHM)
