"""Bearer token verification: an OIDC issuer's JWKS in production, a shared HS256 secret for local use."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jwt
from jwt import PyJWK, PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError, PyJWTError

from chassis.auth.caller import Caller
from chassis.auth.tokens import LOCAL_ALGORITHM, check_local_secret

if TYPE_CHECKING:
    from chassis.settings import ServiceSettings

logger = logging.getLogger(__name__)

# Asymmetric algorithms an OIDC issuer signs with; HS* is never accepted for JWKS keys (algorithm confusion).
JWKS_ALGORITHMS: tuple[str, ...] = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "EdDSA",
)


class InvalidToken(Exception):
    """The token is malformed, badly signed, expired or not meant for us: the caller is not authenticated."""


class VerifierUnavailable(Exception):
    """The issuer's keys cannot be fetched right now: the token may well be good, so this is not a 401."""


class TokenVerifier:
    """Turns a bearer token into a :class:`Caller`, checking signature, ``exp``, and ``iss``/``aud`` if set.

    Tokens whose header says HS256 are checked with ``local_secret``; any other algorithm with the key the
    JWKS at ``jwks_url`` publishes under the token's ``kid``. Either may be left out; with neither, every
    token is refused. Roles come from a ``roles`` claim and from Keycloak's ``realm_access.roles`` (and
    ``resource_access.<audience>.roles``).
    """

    def __init__(
        self,
        *,
        jwks_url: str | None = None,
        local_secret: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway: float = 30.0,
        jwks_client: PyJWKClient | None = None,
        algorithms: Sequence[str] = JWKS_ALGORITHMS,
    ) -> None:
        self._local_key = check_local_secret(local_secret) if local_secret else None
        self._jwks = jwks_client or (PyJWKClient(jwks_url, timeout=10) if jwks_url else None)
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._algorithms = [name for name in algorithms if not name.startswith("HS")]
        if self._local_key is None and self._jwks is None:
            logger.warning("no JWKS URL and no local secret configured: every bearer token will be refused")

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TokenVerifier:
        secret = settings.auth_local_secret
        return cls(
            jwks_url=settings.auth_jwks_url,
            local_secret=secret.get_secret_value() if secret is not None else None,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
        )

    @property
    def uses_jwks(self) -> bool:
        return self._jwks is not None

    def verify(self, token: str) -> Caller:
        """Verify ``token``; may fetch the JWKS over the network (blocking): prefer :meth:`verify_async`."""
        try:
            header = jwt.get_unverified_header(token)
        except PyJWTError as error:
            raise InvalidToken(f"malformed token: {error}") from error
        algorithm = header.get("alg")
        if algorithm == LOCAL_ALGORITHM and self._local_key is not None:
            return self._decode(token, self._local_key, [LOCAL_ALGORITHM])
        if self._jwks is not None and algorithm in self._algorithms:
            return self._decode(token, self._signing_key(token, header), self._algorithms)
        raise InvalidToken(f"tokens signed with {algorithm!r} are not accepted here")

    async def verify_async(self, token: str) -> Caller:
        if self._jwks is None:
            return self.verify(token)
        # PyJWKClient fetches with blocking urllib on a cache miss; keep that off the event loop.
        return await asyncio.to_thread(self.verify, token)

    def _signing_key(self, token: str, header: Mapping[str, Any]) -> PyJWK:
        assert self._jwks is not None
        try:
            if header.get("kid") is None:
                keys = self._jwks.get_signing_keys()
                if len(keys) != 1:
                    raise InvalidToken("token has no key id and the issuer publishes several keys")
                return keys[0]
            return self._jwks.get_signing_key_from_jwt(token)
        except PyJWKClientConnectionError as error:
            raise VerifierUnavailable(f"cannot fetch the issuer's keys: {error}") from error
        except (PyJWKClientError, PyJWTError) as error:
            raise InvalidToken(f"no usable signing key: {error}") from error

    def _decode(self, token: str, key: PyJWK | bytes, algorithms: list[str]) -> Caller:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except PyJWTError as error:
            raise InvalidToken(str(error)) from error
        return self._caller(claims)

    def _caller(self, claims: Mapping[str, Any]) -> Caller:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("token has no subject")
        email = claims.get("email")
        roles = set(_names(claims.get("roles")))
        realm_access = claims.get("realm_access")
        if isinstance(realm_access, Mapping):
            roles.update(_names(realm_access.get("roles")))
        resource_access = claims.get("resource_access")
        if self._audience and isinstance(resource_access, Mapping):
            client = resource_access.get(self._audience)
            if isinstance(client, Mapping):
                roles.update(_names(client.get("roles")))
        return Caller(
            subject=subject, email=email if isinstance(email, str) else None, roles=frozenset(roles)
        )


def _names(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return ()
