"""FastAPI dependencies giving a route its verified :class:`Caller`.

The app factory puts a :class:`TokenVerifier` on ``app.state.token_verifier``. Routes then declare::

    @router.post("/feedback")
    async def submit(body: FeedbackIn, caller: CurrentCaller) -> ...:   # 401 without a valid token
    @router.post("/books")
    async def create(body: BookIn, caller: AdminCaller) -> ...:         # 401, or 403 unless admin
    @router.get("/books")
    async def browse(caller: OptionalCaller) -> ...:                   # None when no token was sent

    @router.post("/orders/{id}/complete", dependencies=[Depends(require_role("admin"))])
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chassis.auth.caller import ADMIN, Caller
from chassis.auth.verifier import InvalidToken, TokenVerifier, VerifierUnavailable
from chassis.http.problems import ProblemError, forbidden, unauthorized

BEARER_SCHEME = "bearer"
# auto_error=False: a missing token becomes our 401 problem, not FastAPI's plain 403/401.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name=BEARER_SCHEME,
    bearerFormat="JWT",
    description="OAuth2 access token (JWT) from the OIDC issuer, for this service's audience",
)
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def token_verifier(request: Request) -> TokenVerifier:
    verifier = getattr(request.app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("app.state.token_verifier is not set: build the app with the chassis app factory")
    return verifier


async def _verified(request: Request, credentials: HTTPAuthorizationCredentials) -> Caller:
    try:
        return await token_verifier(request).verify_async(credentials.credentials)
    except InvalidToken as error:
        raise unauthorized(f"The bearer token is not valid: {error}.", error="invalid_token") from error
    except VerifierUnavailable as error:
        raise ProblemError(
            503, "Service Unavailable", "Tokens cannot be verified right now.", headers={"Retry-After": "5"}
        ) from error


async def current_caller(request: Request, credentials: BearerCredentials) -> Caller:
    if credentials is None:
        raise unauthorized("A bearer token is required.")
    return await _verified(request, credentials)


async def optional_caller(request: Request, credentials: BearerCredentials) -> Caller | None:
    """The caller when a token was sent (a bad one is still a 401), else None."""
    if credentials is None:
        return None
    return await _verified(request, credentials)


CurrentCaller = Annotated[Caller, Depends(current_caller)]
OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]


class RoleRequirement:
    """A dependency admitting callers holding any of ``roles`` (403 otherwise); the OpenAPI names them."""

    def __init__(self, *roles: str) -> None:
        if not roles:
            raise ValueError("require_role needs at least one role")
        self.roles = frozenset(roles)

    async def __call__(self, caller: CurrentCaller) -> Caller:
        if not caller.roles & self.roles:
            raise forbidden(
                f"This needs the role {' or '.join(sorted(self.roles))}.", required_roles=sorted(self.roles)
            )
        return caller


def require_role(*roles: str) -> RoleRequirement:
    return RoleRequirement(*roles)


AdminCaller = Annotated[Caller, Depends(require_role(ADMIN))]
