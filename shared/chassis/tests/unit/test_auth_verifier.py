from __future__ import annotations

import time

import jwt
import pytest

from chassis.auth import Caller, InvalidToken, TokenVerifier, mint_local_token
from chassis.auth.tokens import LOCAL_AUDIENCE, LOCAL_ISSUER
from chassis.settings import ServiceSettings

SECRET = "a-local-development-secret-of-32+bytes"
OTHER_SECRET = "another-development-secret-of-32+bytes"


@pytest.fixture
def verifier() -> TokenVerifier:
    return TokenVerifier(local_secret=SECRET, issuer=LOCAL_ISSUER, audience=LOCAL_AUDIENCE)


def test_valid_token_gives_the_caller(verifier: TokenVerifier) -> None:
    token = mint_local_token(SECRET, "alice", email="alice@example.com", roles=["customer"])
    assert verifier.verify(token) == Caller("alice", "alice@example.com", frozenset({"customer"}))


async def test_verify_async_agrees(verifier: TokenVerifier) -> None:
    token = mint_local_token(SECRET, "root", roles=["admin", "customer"])
    caller = await verifier.verify_async(token)
    assert caller.is_admin
    assert caller.email is None


def test_expired_token_is_refused(verifier: TokenVerifier) -> None:
    # Beyond the verifier's 30 s leeway for clock skew.
    token = mint_local_token(SECRET, "alice", roles=["customer"], ttl=-60)
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(token)


def test_wrong_signature_is_refused(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match="Signature"):
        verifier.verify(mint_local_token(OTHER_SECRET, "mallory", roles=["admin"]))


def test_tampered_token_is_refused(verifier: TokenVerifier) -> None:
    header, _, signature = mint_local_token(SECRET, "alice", roles=["customer"]).split(".")
    forged = jwt.utils.base64url_encode(b'{"sub":"alice","roles":["admin"],"exp":9999999999}').decode()
    with pytest.raises(InvalidToken):
        verifier.verify(f"{header}.{forged}.{signature}")


def test_wrong_audience_is_refused(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match=r"(?i)audience"):
        verifier.verify(mint_local_token(SECRET, "alice", audience="someone-else"))


def test_missing_audience_is_refused_when_one_is_configured(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match="aud"):
        verifier.verify(mint_local_token(SECRET, "alice", audience=None))


def test_wrong_issuer_is_refused(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match="issuer"):
        verifier.verify(mint_local_token(SECRET, "alice", issuer="https://evil.example"))


def test_unconfigured_issuer_and_audience_are_not_checked() -> None:
    lenient = TokenVerifier(local_secret=SECRET)
    token = mint_local_token(SECRET, "alice", issuer="anyone", audience="anything")
    assert lenient.verify(token).subject == "alice"


def test_token_without_roles_is_a_caller_without_roles(verifier: TokenVerifier) -> None:
    caller = verifier.verify(mint_local_token(SECRET, "bob"))
    assert caller.roles == frozenset()
    assert not caller.is_admin


def test_keycloak_style_roles_are_read(verifier: TokenVerifier) -> None:
    token = mint_local_token(
        SECRET,
        "kc-user",
        roles=["customer"],
        extra_claims={
            "realm_access": {"roles": ["admin", "offline_access"]},
            "resource_access": {LOCAL_AUDIENCE: {"roles": ["auditor"]}, "other": {"roles": ["x"]}},
        },
    )
    assert verifier.verify(token).roles == {"customer", "admin", "offline_access", "auditor"}


def test_token_without_subject_or_expiry_is_refused(verifier: TokenVerifier) -> None:
    now = int(time.time())
    claims = {"iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE}
    no_subject = jwt.encode({**claims, "exp": now + 60}, SECRET, algorithm="HS256")
    no_expiry = jwt.encode({**claims, "sub": "alice"}, SECRET, algorithm="HS256")
    for token in (no_subject, no_expiry):
        with pytest.raises(InvalidToken):
            verifier.verify(token)


def test_garbage_and_unsigned_tokens_are_refused(verifier: TokenVerifier) -> None:
    unsigned = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, "", algorithm="none")
    for token in ("not-a-token", "a.b.c", unsigned):
        with pytest.raises(InvalidToken):
            verifier.verify(token)


def test_without_any_key_every_token_is_refused() -> None:
    with pytest.raises(InvalidToken):
        TokenVerifier().verify(mint_local_token(SECRET, "alice"))


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        mint_local_token("short", "alice")
    with pytest.raises(ValueError, match="32 bytes"):
        TokenVerifier(local_secret="short")


def test_from_settings_uses_the_auth_settings() -> None:
    settings = ServiceSettings(auth_local_secret=SECRET, auth_audience="folio-api")
    verifier = TokenVerifier.from_settings(settings)
    assert not verifier.uses_jwks
    assert verifier.verify(mint_local_token(SECRET, "alice", audience="folio-api")).subject == "alice"
    with pytest.raises(InvalidToken):
        verifier.verify(mint_local_token(SECRET, "alice"))
