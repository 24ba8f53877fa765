from __future__ import annotations

import time

import jwt
import pytest
from pydantic import ValidationError

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


def test_the_local_issuer_and_audience_are_checked_by_default() -> None:
    verifier = TokenVerifier(local_secret=SECRET)
    assert verifier.verify(mint_local_token(SECRET, "alice")).subject == "alice"
    for claims in ({"issuer": "anyone"}, {"audience": "anything"}, {"issuer": None}, {"audience": None}):
        with pytest.raises(InvalidToken):
            verifier.verify(mint_local_token(SECRET, "alice", **claims))  # type: ignore[arg-type]


def test_token_without_roles_is_a_caller_without_roles(verifier: TokenVerifier) -> None:
    caller = verifier.verify(mint_local_token(SECRET, "bob"))
    assert caller.roles == frozenset()
    assert not caller.is_admin


def test_roles_come_from_roles_and_this_audiences_client_roles_only(verifier: TokenVerifier) -> None:
    token = mint_local_token(
        SECRET,
        "kc-user",
        roles=["customer"],
        extra_claims={
            "realm_access": {"roles": ["admin", "offline_access"]},
            "resource_access": {LOCAL_AUDIENCE: {"roles": ["auditor"]}, "other": {"roles": ["admin"]}},
        },
    )
    assert verifier.verify(token).roles == {"customer", "auditor"}


def test_roles_claim_paths_are_configurable() -> None:
    verifier = TokenVerifier(local_secret=SECRET, role_claims=["https://folio.example/roles"])
    token = mint_local_token(
        SECRET, "u", roles=["admin"], extra_claims={"https://folio.example/roles": ["x"]}
    )
    assert verifier.verify(token).roles == {"x"}


@pytest.mark.parametrize("roles", ["customer admin", [["admin"]], {"admin": True}, ["admin", 1]])
def test_roles_that_are_not_a_list_of_strings_are_refused(verifier: TokenVerifier, roles: object) -> None:
    token = mint_local_token(SECRET, "mallory", extra_claims={"roles": roles})
    with pytest.raises(InvalidToken, match="list of strings"):
        verifier.verify(token)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"sub": "nul\x00byte"}, "subject"),
        ({"sub": "line\nbreak"}, "subject"),
        ({"sub": "s" * 256}, "subject"),
        ({"email": "a@b.example\nBcc: victim@example.com"}, "email"),
        ({"email": "a" * 311 + "@b.example"}, "email"),
        ({"email": "nul\x00@b.example"}, "email"),
        ({"email": "not-an-address"}, "email"),
        ({"email": ["a@b.example"]}, "email"),
        ({"roles": ["ad\x00min"]}, "role"),
    ],
)
def test_claims_that_cannot_be_stored_or_mailed_are_refused_with_a_reason(
    verifier: TokenVerifier, claims: dict[str, object], reason: str
) -> None:
    token = mint_local_token(SECRET, "alice", extra_claims=claims)
    with pytest.raises(InvalidToken, match=reason):
        verifier.verify(token)


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


def test_from_settings_uses_the_local_auth_settings() -> None:
    settings = ServiceSettings(
        auth_local_secret=SECRET, auth_local_issuer="dev-box", auth_local_audience="folio-api"
    )
    verifier = TokenVerifier.from_settings(settings)
    assert not verifier.uses_jwks
    token = mint_local_token(SECRET, "alice", issuer="dev-box", audience="folio-api")
    assert verifier.verify(token).subject == "alice"
    with pytest.raises(InvalidToken):
        verifier.verify(mint_local_token(SECRET, "alice"))


def test_a_service_refuses_a_local_secret_beside_a_jwks() -> None:
    jwks = {"auth_jwks_url": "https://id.example/jwks.json", "auth_issuer": "https://id.example/"}
    with pytest.raises(ValidationError, match="FOLIO_AUTH_LOCAL_SECRET"):
        ServiceSettings(**jwks, auth_local_secret=SECRET)
    with pytest.raises(ValidationError, match="auth_issuer"):
        ServiceSettings(auth_jwks_url=jwks["auth_jwks_url"])
    with pytest.raises(ValidationError, match="realm"):
        ServiceSettings(auth_role_claims="roles,realm_access.roles")
    assert TokenVerifier.from_settings(ServiceSettings(**jwks, auth_local_secret="")).uses_jwks
