"""Bearer token verification: an OIDC issuer's JWKS in production, a shared HS256 secret for local use.

Exactly one of the two: a service configured with both refuses to start (see ``ServiceSettings``), so a
local secret leaking into production cannot mint admins there. In both modes the token must be signed,
unexpired, issued by the expected issuer (``iss``) and meant for the expected audience (``aud``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jwt
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from chassis.auth.caller import Caller
from chassis.auth.jwks import JwksKeys, JwksUnavailable, UnknownKey
from chassis.auth.tokens import LOCAL_ALGORITHM, LOCAL_AUDIENCE, LOCAL_ISSUER, check_local_secret
from chassis.http.text import unstorable

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
# Dotted claim paths holding the caller's roles; ``{audience}`` is this service's audience. Realm-wide
# roles (Keycloak's ``realm_access.roles``) are deliberately absent: they are not this audience's to grant.
DEFAULT_ROLE_CLAIMS: tuple[str, ...] = ("roles", "resource_access.{audience}.roles")
# RFC 5321: an address is at most 320 octets (64 local part, @, 255 domain).
MAX_EMAIL = 320
MAX_SUBJECT = 255
MAX_ROLE = 100
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class InvalidToken(Exception):
    """The token is malformed, badly signed, expired or not meant for us: the caller is not authenticated."""


class VerifierUnavailable(Exception):
    """The issuer's keys cannot be fetched right now: the token may well be good, so this is not a 401."""


class TokenVerifier:
    """Turns a bearer token into a :class:`Caller`.

    With ``jwks_url`` (or ``jwks``), tokens must be signed with an asymmetric algorithm by a key the issuer
    publishes; ``issuer`` is then required. With ``local_secret``, HS256 tokens signed with it; the issuer
    and audience default to ``folio-local`` and ``folio``. With neither, every token is refused.
    """

    def __init__(
        self,
        *,
        jwks_url: str | None = None,
        local_secret: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway: float = 30.0,
        jwks: JwksKeys | None = None,
        algorithms: Sequence[str] = JWKS_ALGORITHMS,
        role_claims: Sequence[str] = DEFAULT_ROLE_CLAIMS,
    ) -> None:
        self._algorithms = [name for name in algorithms if not name.startswith("HS")]
        if jwks is None and jwks_url:
            jwks = JwksKeys(jwks_url, algorithms=self._algorithms)
        if jwks is not None and local_secret:
            raise ValueError("a local token secret must not be configured together with a JWKS")
        if jwks is not None and not issuer:
            raise ValueError("verifying tokens against a JWKS needs the issuer they must come from")
        self._jwks = jwks
        self._local_key = check_local_secret(local_secret) if local_secret else None
        self._issuer = issuer or LOCAL_ISSUER
        self._audience = audience or LOCAL_AUDIENCE
        self._leeway = leeway
        self._role_paths = [path.format(audience=self._audience) for path in role_claims]
        if self._local_key is None and self._jwks is None:
            logger.warning("no JWKS URL and no local secret configured: every bearer token will be refused")

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TokenVerifier:
        if settings.auth_jwks_url:
            jwks = JwksKeys(
                settings.auth_jwks_url,
                algorithms=JWKS_ALGORITHMS,
                min_refresh_interval=settings.auth_jwks_min_refresh_seconds,
                max_age=settings.auth_jwks_max_age_seconds,
                timeout=settings.auth_jwks_timeout_seconds,
            )
            return cls(
                jwks=jwks,
                issuer=settings.auth_issuer,
                audience=settings.auth_audience,
                role_claims=settings.auth_role_claims,
            )
        secret = settings.auth_local_secret
        return cls(
            local_secret=secret.get_secret_value() if secret is not None else None,
            issuer=settings.auth_local_issuer,
            audience=settings.auth_local_audience,
            role_claims=settings.auth_role_claims,
        )

    @property
    def uses_jwks(self) -> bool:
        return self._jwks is not None

    @property
    def issuer(self) -> str:
        return self._issuer

    @property
    def audience(self) -> str:
        return self._audience

    def verify(self, token: str) -> Caller:
        """Verify a local (HS256) token; a JWKS verifier needs :meth:`verify_async` (it may fetch keys)."""
        if self._jwks is not None:
            raise RuntimeError("a JWKS verifier verifies with verify_async")
        algorithm = _header(token).get("alg")
        if algorithm == LOCAL_ALGORITHM and self._local_key is not None:
            return self._decode(token, self._local_key, [LOCAL_ALGORITHM])
        raise InvalidToken(f"tokens signed with {algorithm!r} are not accepted here")

    async def verify_async(self, token: str) -> Caller:
        if self._jwks is None:
            return self.verify(token)
        header = _header(token)
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            raise InvalidToken(f"tokens signed with {algorithm!r} are not accepted here")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("the token's key id is not a string")
        try:
            key = await self._jwks.key(kid)
        except JwksUnavailable as error:
            raise VerifierUnavailable(str(error)) from error
        except UnknownKey as error:
            raise InvalidToken(f"no usable signing key: {error}") from error
        return self._decode(token, key, self._algorithms)

    def _decode(self, token: str, key: PyJWK | bytes, algorithms: list[str]) -> Caller:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except PyJWTError as error:
            raise InvalidToken(str(error)) from error
        return self._caller(claims)

    def _caller(self, claims: Mapping[str, Any]) -> Caller:
        return Caller(subject=_subject(claims), email=_email(claims), roles=self._roles(claims))

    def _roles(self, claims: Mapping[str, Any]) -> frozenset[str]:
        roles: set[str] = set()
        for name in self._role_paths:
            value = _claim(claims, name)
            if value is None:
                continue
            if not isinstance(value, list) or not all(isinstance(role, str) for role in value):
                raise InvalidToken(f"the {name} claim must be a list of strings")
            if any(len(role) > MAX_ROLE or unstorable(role) for role in value):
                raise InvalidToken(f"the {name} claim holds a malformed role")
            roles.update(value)
        return frozenset(roles)


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """The claim at a dotted path; a top-level name holding dots (``https://x.example/roles``) wins."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for step in path.split("."):
        value = value.get(step) if isinstance(value, Mapping) else None
    return value


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except PyJWTError as error:
        raise InvalidToken(f"malformed token: {error}") from error


def _subject(claims: Mapping[str, Any]) -> str:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("token has no subject")
    problem = unstorable(subject)
    if problem or len(subject) > MAX_SUBJECT or not subject.isprintable():
        raise InvalidToken(
            f"the token's subject must be 1 to {MAX_SUBJECT} printable characters"
            + (f" (it {problem})" if problem else "")
        )
    return subject


def _email(claims: Mapping[str, Any]) -> str | None:
    email = claims.get("email")
    if email is None:
        return None
    if (
        not isinstance(email, str)
        or len(email) > MAX_EMAIL
        or unstorable(email)
        or not email.isprintable()
        or not _EMAIL.fullmatch(email)
    ):
        raise InvalidToken(
            f"the token's email claim is not an address of at most {MAX_EMAIL} characters on one line"
        )
    return email
