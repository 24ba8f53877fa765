"""Verification against a JWKS served over real HTTP by a server of the test's own, which counts its hits
and can be told to fail or to be slow, as an OIDC issuer (Keycloak, Auth0, ...) would be on a bad day."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from chassis.auth import AdminCaller, CurrentCaller, InvalidToken, TokenVerifier, VerifierUnavailable
from chassis.auth.jwks import JwksKeys
from chassis.auth.verifier import JWKS_ALGORITHMS
from chassis.http.problems import install_problem_handlers

ISSUER = "https://issuer.test/realms/folio"
AUDIENCE = "folio-api"


def _jwk(private_key: Any, kid: str) -> dict[str, Any]:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return {**json.loads(RSAAlgorithm.to_jwk(private_key.public_key())), "kid": kid, "alg": "RS256"}
    return {**json.loads(ECAlgorithm.to_jwk(private_key.public_key())), "kid": kid, "alg": "ES256"}


class Issuer:
    """Signing keys, and the JWKS document an HTTP server of the test's own publishes for them."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {
            "rsa-1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ec-1": ec.generate_private_key(ec.SECP256R1()),
        }
        self.published = ["rsa-1", "ec-1"]
        self.hits = 0
        self.failing = False
        self.delay = 0.0
        self.url = ""

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**_jwk(self.keys[kid], kid), "use": "sig"} for kid in self.published]}

    def rotate(self) -> str:
        kid = f"rsa-{uuid.uuid4().hex[:6]}"
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.published.append(kid)
        return kid

    def token(self, kid: str = "rsa-1", **claims: Any) -> str:
        now = int(time.time())
        payload = {"sub": "kc-123", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, **claims}
        payload = {name: value for name, value in payload.items() if value is not None}
        algorithm = "ES256" if kid.startswith("ec") else "RS256"
        return jwt.encode(payload, self.keys[kid], algorithm=algorithm, headers={"kid": kid})


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    issuer = Issuer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer.hits += 1
            time.sleep(issuer.delay)
            if issuer.failing:
                self.send_error(500)
                return
            body = json.dumps(issuer.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}/realms/folio/protocol/openid-connect/certs"
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(issuer: Issuer, clock: Clock) -> TokenVerifier:
    keys = JwksKeys(issuer.url, algorithms=JWKS_ALGORITHMS, min_refresh_interval=30, max_age=300, clock=clock)
    return TokenVerifier(jwks=keys, issuer=ISSUER, audience=AUDIENCE)


async def test_rs256_and_es256_tokens_from_the_issuer_are_accepted(
    verifier: TokenVerifier, issuer: Issuer
) -> None:
    caller = await verifier.verify_async(
        issuer.token(email="kc@example.com", resource_access={AUDIENCE: {"roles": ["admin"]}})
    )
    assert (caller.subject, caller.email, caller.is_admin) == ("kc-123", "kc@example.com", True)
    assert (await verifier.verify_async(issuer.token(kid="ec-1", roles=["customer"]))).roles == {"customer"}


async def test_realm_wide_and_other_clients_roles_grant_nothing(
    verifier: TokenVerifier, issuer: Issuer
) -> None:
    token = issuer.token(
        realm_access={"roles": ["admin"]}, resource_access={"other-client": {"roles": ["admin"]}}
    )
    assert (await verifier.verify_async(token)).roles == frozenset()


async def test_a_string_of_roles_is_refused(verifier: TokenVerifier, issuer: Issuer) -> None:
    with pytest.raises(InvalidToken, match="list of strings"):
        await verifier.verify_async(issuer.token(roles="customer admin"))
    with pytest.raises(InvalidToken, match="list of strings"):
        await verifier.verify_async(issuer.token(resource_access={AUDIENCE: {"roles": [1, "admin"]}}))


async def test_issuer_and_audience_are_required_and_checked(verifier: TokenVerifier, issuer: Issuer) -> None:
    for claims, reason in (
        ({"iss": None}, "iss"),
        ({"aud": None}, "aud"),
        ({"iss": "https://evil.example"}, "(?i)issuer"),
        ({"aud": "someone-else"}, "(?i)audience"),
        ({"exp": int(time.time()) - 120}, "expired"),
    ):
        with pytest.raises(InvalidToken, match=reason):
            await verifier.verify_async(issuer.token(**claims))


async def test_keys_are_fetched_once_and_cached(verifier: TokenVerifier, issuer: Issuer) -> None:
    for _ in range(5):
        await verifier.verify_async(issuer.token())
    assert issuer.hits == 1


async def test_concurrent_requests_on_a_cold_cache_share_one_fetch(
    verifier: TokenVerifier, issuer: Issuer
) -> None:
    issuer.delay = 0.3
    callers = await asyncio.gather(*(verifier.verify_async(issuer.token()) for _ in range(20)))
    assert {caller.subject for caller in callers} == {"kc-123"}
    assert issuer.hits == 1


async def test_unknown_key_ids_refetch_at_most_once_per_interval(
    verifier: TokenVerifier, issuer: Issuer, clock: Clock
) -> None:
    await verifier.verify_async(issuer.token())
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    payload = {"sub": "x", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60}
    for _ in range(3):
        for _ in range(10):
            forged = jwt.encode(payload, stranger, algorithm="RS256", headers={"kid": uuid.uuid4().hex})
            with pytest.raises(InvalidToken, match="signing key"):
                await verifier.verify_async(forged)
        clock.now += 31
    # The first fetch opened the first 30 s window; each later window allows one refresh, however many
    # random key ids arrive in it.
    assert issuer.hits == 1 + 2


async def test_refreshes_share_one_tls_context_made_once(
    verifier: TokenVerifier, issuer: Issuer, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[object] = []
    real = ssl.create_default_context

    def create_default_context(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", create_default_context)
    for _ in range(3):
        await verifier.verify_async(issuer.token(kid=issuer.rotate()))
        clock.now += 31
    assert issuer.hits == 3
    assert len(made) == 1


async def test_a_rotated_key_is_learnt_on_first_sight(
    verifier: TokenVerifier, issuer: Issuer, clock: Clock
) -> None:
    await verifier.verify_async(issuer.token())
    clock.now += 31
    kid = issuer.rotate()
    assert (await verifier.verify_async(issuer.token(kid=kid))).subject == "kc-123"
    assert issuer.hits == 2


async def background_refresh_finished(verifier: TokenVerifier) -> None:
    """Return once the refresh the key set runs behind requests, if one was started, has ended."""
    assert isinstance(verifier._jwks, JwksKeys)
    refreshing = verifier._jwks._refreshing
    if refreshing is not None:
        await asyncio.gather(refreshing, return_exceptions=True)


async def test_a_failed_refresh_keeps_the_last_good_keys(
    verifier: TokenVerifier, issuer: Issuer, clock: Clock
) -> None:
    await verifier.verify_async(issuer.token())
    issuer.failing = True
    clock.now += 301  # stale: refreshed in the background, which fails
    for _ in range(3):
        assert (await verifier.verify_async(issuer.token())).subject == "kc-123"
        # The refresh it started behind the request has failed by now (however slowly), not still in flight.
        await background_refresh_finished(verifier)
    assert issuer.hits == 2, "one refresh behind the three requests: a failed one is not retried at once"
    clock.now += 31
    unknown = issuer.rotate()
    with pytest.raises(InvalidToken, match="signing key"):
        await verifier.verify_async(issuer.token(kid=unknown))
    assert (await verifier.verify_async(issuer.token(kid="ec-1"))).subject == "kc-123"
    assert issuer.hits == 3


async def test_without_any_key_set_the_verifier_is_unavailable(
    verifier: TokenVerifier, issuer: Issuer
) -> None:
    issuer.failing = True
    with pytest.raises(VerifierUnavailable):
        await verifier.verify_async(issuer.token())


async def test_hs256_tokens_and_symmetric_keys_are_refused_in_jwks_mode(
    verifier: TokenVerifier, issuer: Issuer
) -> None:
    # Algorithm confusion: no HMAC key, published or guessed, ever verifies anything here.
    payload = {"sub": "x", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60}
    token = jwt.encode(payload, "x" * 40, algorithm="HS256", headers={"kid": "rsa-1"})
    with pytest.raises(InvalidToken, match="not accepted"):
        await verifier.verify_async(token)


def test_a_jwks_verifier_needs_an_issuer_and_no_local_secret(issuer: Issuer) -> None:
    with pytest.raises(ValueError, match="issuer"):
        TokenVerifier(jwks_url=issuer.url, audience=AUDIENCE)
    with pytest.raises(ValueError, match="local token secret"):
        TokenVerifier(jwks_url=issuer.url, issuer=ISSUER, local_secret="s" * 40)


async def test_api_answers_503_when_the_issuer_is_unreachable(issuer: Issuer) -> None:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = TokenVerifier(jwks_url="http://127.0.0.1:9/certs", issuer=ISSUER)

    @app.get("/me")
    async def me(caller: CurrentCaller) -> str:
        return caller.subject

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/me", headers={"Authorization": f"Bearer {issuer.token()}"})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"]


async def test_api_admits_the_issuers_admin_and_refuses_a_customer(issuer: Issuer) -> None:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = TokenVerifier(jwks_url=issuer.url, issuer=ISSUER, audience=AUDIENCE)

    @app.get("/admin")
    async def admin(caller: AdminCaller) -> str:
        return caller.subject

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        admin_token = issuer.token(roles=["admin"])
        answer = await client.get("/admin", headers={"Authorization": f"Bearer {admin_token}"})
        assert answer.json() == "kc-123"
        customer_token = issuer.token(roles=["customer"], realm_access={"roles": ["admin"]})
        answer = await client.get("/admin", headers={"Authorization": f"Bearer {customer_token}"})
        assert answer.status_code == 403
