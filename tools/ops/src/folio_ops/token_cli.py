"""``folio-token``: mint local HS256 tokens for development, tests and the demo.

folio-token mint --subject alice --email alice@example.com --role customer
FOLIO_AUTH_LOCAL_SECRET=... folio-token mint --subject root --role admin --ttl 600
folio-token secret        # prints a fresh random secret to put in FOLIO_AUTH_LOCAL_SECRET
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Sequence

from chassis.auth.tokens import LOCAL_AUDIENCE, LOCAL_ISSUER, mint_local_token

SECRET_ENV = "FOLIO_AUTH_LOCAL_SECRET"
# The services' own settings (ServiceSettings.auth_local_issuer/_audience), so minted tokens match them.
ISSUER_ENV = "FOLIO_AUTH_LOCAL_ISSUER"
AUDIENCE_ENV = "FOLIO_AUTH_LOCAL_AUDIENCE"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="folio-token", description="Local development tokens for Folio's APIs."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    mint = commands.add_parser("mint", help="print a signed bearer token")
    mint.add_argument("--subject", "--sub", required=True, help="the caller's id (the token's sub)")
    mint.add_argument("--email", help="the caller's email")
    mint.add_argument(
        "--role", action="append", default=[], dest="roles", help="a role (admin, customer); repeatable"
    )
    mint.add_argument("--secret", help=f"HS256 secret (default: ${SECRET_ENV})")
    mint.add_argument("--ttl", type=float, default=3600, help="lifetime in seconds (default 3600)")
    mint.add_argument(
        "--issuer",
        default=os.environ.get(ISSUER_ENV, LOCAL_ISSUER),
        help=f"iss claim (default ${ISSUER_ENV} or {LOCAL_ISSUER}; '' for none: no service accepts it)",
    )
    mint.add_argument(
        "--audience",
        default=os.environ.get(AUDIENCE_ENV, LOCAL_AUDIENCE),
        help=f"aud claim (default ${AUDIENCE_ENV} or {LOCAL_AUDIENCE}; '' for none: no service accepts it)",
    )
    commands.add_parser("secret", help="print a new random secret suitable for local tokens")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "secret":
        print(secrets.token_hex(32))
        return 0
    secret = args.secret or os.environ.get(SECRET_ENV)
    if not secret:
        print(f"folio-token: no secret: pass --secret or set {SECRET_ENV}", file=sys.stderr)
        return 2
    try:
        token = mint_local_token(
            secret,
            args.subject,
            email=args.email,
            roles=args.roles,
            ttl=args.ttl,
            issuer=args.issuer or None,
            audience=args.audience or None,
        )
    except ValueError as error:
        print(f"folio-token: {error}", file=sys.stderr)
        return 2
    print(token)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
