"""Authentication: bearer JWTs verified into a :class:`Caller`, FastAPI dependencies, local dev tokens."""

from chassis.auth.caller import ADMIN, CUSTOMER, Caller
from chassis.auth.dependencies import AdminCaller, CurrentCaller, OptionalCaller, require_role
from chassis.auth.tokens import LOCAL_AUDIENCE, LOCAL_ISSUER, mint_local_token
from chassis.auth.verifier import InvalidToken, TokenVerifier, VerifierUnavailable

__all__ = [
    "ADMIN",
    "CUSTOMER",
    "LOCAL_AUDIENCE",
    "LOCAL_ISSUER",
    "AdminCaller",
    "Caller",
    "CurrentCaller",
    "InvalidToken",
    "OptionalCaller",
    "TokenVerifier",
    "VerifierUnavailable",
    "mint_local_token",
    "require_role",
]
