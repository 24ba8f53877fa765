"""Who may do what, derived from each service's OpenAPI: every operation is called by every kind of caller,
and any wrongful access fails the test, so a new route cannot escape it.

What the OpenAPI says is taken at its word and checked against what the service does:

- an operation with a ``security`` requirement needs a valid token: anonymous callers, and tokens from
  another issuer, for another audience or without an issuer, are answered 401;
- a requirement naming roles (OpenAPI 3.1 lets a bearer scheme list them) is refused to callers without
  them with 403, including tokens that carry ``admin`` only in realm-wide roles or in a plain string;
- an operation that changes something (POST, PUT, PATCH, DELETE) always has a security requirement;
- a caller entitled to an operation is never answered 401 or 403;
- nobody but alice and the admin ever sees alice's id or e-mail in an answer, whatever they ask for
  (bob is sent to alice's order and asks for alice's orders and notifications by her id).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from devstack.config import SERVICES
from devstack.stack import Stack

pytestmark = pytest.mark.e2e

UNSAFE = ("post", "put", "patch", "delete")
# Callers who are nobody here: every protected operation answers them 401.
# A token whose roles are a string rather than a list is malformed: nobody either.
UNAUTHENTICATED = (
    "anonymous",
    "foreign-issuer admin",
    "wrong-audience admin",
    "no-issuer admin",
    "string-role admin",
)
# Callers who are customers at best (realm-wide roles are not this service's): admin-only answers them 403.
NOT_ADMIN = ("alice", "bob", "realm-role admin")
# Order of calls: the refused first, the entitled last, so that their effects (a deleted book) come last.
CALLERS = (*UNAUTHENTICATED, *NOT_ADMIN, "admin")


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def example(document: dict[str, Any], schema: dict[str, Any], known: dict[str, str]) -> Any:
    """A valid value for ``schema`` from its examples and defaults: a request the service should accept."""
    schema = _resolve(document, schema)
    for choice in ("anyOf", "oneOf"):
        if choice in schema:
            options = [option for option in schema[choice] if _resolve(document, option).get("type")]
            usable = [option for option in options if _resolve(document, option)["type"] != "null"]
            return example(document, (usable or schema[choice])[0], known)
    if "allOf" in schema:
        return example(document, schema["allOf"][0], known)
    if schema.get("examples"):
        return schema["examples"][0]
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {
            name: example(document, sub, known)
            for name, sub in schema.get("properties", {}).items()
            if name in schema.get("required", ())
        }
    if kind == "array":
        return [example(document, schema["items"], known) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(schema.get("minimum", 1), 1)
    if kind == "boolean":
        return False
    if schema.get("format") == "uuid":
        return known["book_id"]
    return "matrix"


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "head", *UNSAFE)
    ]
    # Deletions last: the entitled caller's delete removes what the other calls use.
    return sorted(found, key=lambda entry: entry[0] == "delete")


def _request(
    document: dict[str, Any], method: str, path: str, operation: dict[str, Any], world: Any
) -> dict[str, Any]:
    known = world.path_values(method)
    params: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        if where == "path":
            path = path.replace("{" + name + "}", known.get(name, str(uuid.uuid4())))
        elif where == "query" and name == "customer_id":
            params[name] = world.alice.subject
    request: dict[str, Any] = {"method": method.upper(), "url": path, "params": params}
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        request["json"] = example(document, body["schema"], known)
    return request


def _requirements(document: dict[str, Any], operation: dict[str, Any]) -> tuple[bool, set[str]]:
    """Whether the operation needs a token, and the roles its security requirement names."""
    security = operation.get("security", document.get("security", []))
    roles = {role for requirement in security for scopes in requirement.values() for role in scopes}
    return bool(security), roles


def _wrongs(
    caller: str, response: httpx.Response, needs_token: bool, roles: set[str], world: Any
) -> list[tuple[str, str]]:
    """What was wrong with ``response`` to ``caller``: (kind, what happened) pairs."""
    status = response.status_code
    wrongs = []
    if needs_token and caller in UNAUTHENTICATED:
        if status != 401:
            wrongs.append(("accepted without a valid token", f"answered {status}, not 401"))
    elif "admin" in roles and caller in NOT_ADMIN:
        if status != 403:
            wrongs.append(("admin only, granted to a non-admin", f"answered {status}, not 403"))
    elif (caller in ("admin", "alice") or (caller == "anonymous" and not needs_token)) and status in (
        401,
        403,
    ):
        wrongs.append(("refused an entitled caller", f"answered {status}"))
    leaked = world.alice.subject in response.text or world.alice.email in response.text
    if caller not in ("alice", "admin") and status < 300 and leaked:
        wrongs.append(("showed alice's data to another", f"answered {status}"))
    return wrongs


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_refuses_whoever_is_not_entitled(
    stack: Stack, world: Any, openapi: dict[str, dict[str, Any]], service: str
) -> None:
    document = openapi[service]
    found: list[str] = []
    kinds: Counter[str] = Counter()
    with httpx.Client(base_url=stack.config.api_url(service), timeout=15) as client:
        for method, path, operation in _operations(document):
            needs_token, roles = _requirements(document, operation)
            label = f"{method.upper()} {path}"
            if method in UNSAFE and not needs_token:
                found.append(f"{label}: changes something but documents no security requirement")
                kinds["unsafe and public"] += 1
            request = _request(document, method, path, operation, world)
            for caller in CALLERS:
                identity = world.identities[caller]
                response = client.request(**request, headers=identity.headers)
                for kind, what in _wrongs(caller, response, needs_token, roles, world):
                    found.append(f"{label} as {caller}: {kind}: {what}: {response.text[:160]}")
                    kinds[kind] += 1
    print(f"\n{service}: wrongful accesses by kind: {dict(kinds) or 'none'}")
    print("\n".join(found))
    assert not found, json.dumps(found, indent=1)
