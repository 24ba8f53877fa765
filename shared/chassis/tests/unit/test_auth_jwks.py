"""Verification against a JWKS served over real HTTP, as an OIDC issuer (Keycloak, Auth0, ...) would."""

from __future__ import annotations

import json
import threading
import time
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
from chassis.http.problems import install_problem_handlers

ISSUER = "https://issuer.test/realms/folio"
AUDIENCE = "folio-api"


class Issuer:
    """Signing keys and a JWKS document listing their public halves."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        rsa_jwk = json.loads(RSAAlgorithm.to_jwk(self.rsa.public_key()))
        ec_jwk = json.loads(ECAlgorithm.to_jwk(self.ec.public_key()))
        self.jwks = {
            "keys": [
                {**rsa_jwk, "kid": "rsa-1", "alg": "RS256", "use": "sig"},
                {**ec_jwk, "kid": "ec-1", "alg": "ES256", "use": "sig"},
            ]
        }
        self.requests = 0

    def token(self, kid: str = "rsa-1", **claims: Any) -> str:
        now = int(time.time())
        payload = {"sub": "kc-123", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, **claims}
        if kid.startswith("ec"):
            return jwt.encode(payload, self.ec, algorithm="ES256", headers={"kid": kid})
        return jwt.encode(payload, self.rsa, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture(scope="module")
def jwks_url(issuer: Issuer) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer.requests += 1
            body = json.dumps(issuer.jwks).encode()
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
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/realms/folio/protocol/openid-connect/certs"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def verifier(jwks_url: str) -> TokenVerifier:
    return TokenVerifier(jwks_url=jwks_url, issuer=ISSUER, audience=AUDIENCE)


async def test_rs256_token_from_the_issuer_is_accepted(verifier: TokenVerifier, issuer: Issuer) -> None:
    token = issuer.token(email="kc@example.com", realm_access={"roles": ["admin", "default-roles-folio"]})
    caller = await verifier.verify_async(token)
    assert caller.subject == "kc-123"
    assert caller.email == "kc@example.com"
    assert caller.is_admin


async def test_es256_token_is_accepted(verifier: TokenVerifier, issuer: Issuer) -> None:
    caller = await verifier.verify_async(issuer.token(kid="ec-1", roles=["customer"]))
    assert caller.roles == {"customer"}


async def test_keys_are_cached_between_requests(verifier: TokenVerifier, issuer: Issuer) -> None:
    before = issuer.requests
    for _ in range(5):
        await verifier.verify_async(issuer.token())
    assert issuer.requests - before <= 1


async def test_token_signed_by_an_unknown_key_is_refused(verifier: TokenVerifier) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    payload = {"sub": "x", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60}
    forged_same_kid = jwt.encode(payload, stranger, algorithm="RS256", headers={"kid": "rsa-1"})
    unknown_kid = jwt.encode(payload, stranger, algorithm="RS256", headers={"kid": "nope"})
    with pytest.raises(InvalidToken, match="Signature"):
        await verifier.verify_async(forged_same_kid)
    with pytest.raises(InvalidToken, match="signing key"):
        await verifier.verify_async(unknown_kid)


async def test_expired_and_foreign_audience_tokens_are_refused(
    verifier: TokenVerifier, issuer: Issuer
) -> None:
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify_async(issuer.token(exp=int(time.time()) - 120))
    with pytest.raises(InvalidToken, match=r"(?i)audience"):
        await verifier.verify_async(issuer.token(aud="account"))


async def test_hs256_token_is_refused_in_jwks_mode(verifier: TokenVerifier, issuer: Issuer) -> None:
    # Algorithm confusion: the RSA public key used as an HMAC secret must never verify anything.
    payload = {"sub": "x", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60}
    token = jwt.encode(payload, "x" * 40, algorithm="HS256", headers={"kid": "rsa-1"})
    with pytest.raises(InvalidToken, match="not accepted"):
        await verifier.verify_async(token)


async def test_unreachable_issuer_is_unavailable_not_invalid(issuer: Issuer) -> None:
    verifier = TokenVerifier(jwks_url="http://127.0.0.1:9/certs", issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(VerifierUnavailable):
        await verifier.verify_async(issuer.token())


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


async def test_api_accepts_the_issuers_token(jwks_url: str, issuer: Issuer) -> None:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = TokenVerifier(jwks_url=jwks_url, issuer=ISSUER, audience=AUDIENCE)

    @app.get("/admin")
    async def admin(caller: AdminCaller) -> str:
        return caller.subject

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        admin_token = issuer.token(realm_access={"roles": ["admin"]})
        assert (
            await client.get("/admin", headers={"Authorization": f"Bearer {admin_token}"})
        ).json() == "kc-123"
        customer_token = issuer.token(realm_access={"roles": ["customer"]})
        assert (
            await client.get("/admin", headers={"Authorization": f"Bearer {customer_token}"})
        ).status_code == 403
