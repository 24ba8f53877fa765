"""An OpenAPI document that says what the service answers, derived once from each route's dependencies.

FastAPI documents a 422 of its own shape (``HTTPValidationError``, ``application/json``) and nothing else.
:func:`document_api` replaces that with every problem an operation can answer, as ``application/problem+json``
with the real schema, worked out from what the route depends on:

- every operation: 503 with ``Retry-After`` while a dependency (the database, the issuer's keys) cannot
  be reached, or the API is at capacity (``shedding``), and 429 with ``Retry-After`` past a client's fair
  share of a full API;
- a bearer token (``CurrentCaller``, ``AdminCaller``, ...): 401 and 403; the operation's security
  requirement names the roles a ``RoleRequirement`` asks for;
- path parameters: 404; any parameter or body: 422 (``ValidationProblem``, with ``errors``);
- a body: 400 (unreadable), 413 (too large), 415 (not JSON);
- ``Idempotency-Key``: 409 (the same key still in flight) and 422 (reused for another request);
- error statuses a route declares itself in ``responses`` (a 409 for a conflicting state, say).

Every GET is served for HEAD too (see ``guard``), so every GET gets a HEAD twin without bodies.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.security.base import SecurityBase
from pydantic import BaseModel, ConfigDict, Field

from chassis.auth.dependencies import BEARER_SCHEME, RoleRequirement
from chassis.http.idempotency import idempotency_key_header
from chassis.http.problems import PROBLEM_JSON

REF = "#/components/schemas/{model}"

DESCRIPTIONS = {
    400: "The body could not be read",
    401: "No valid bearer token (missing, expired, badly signed, or from another issuer or audience)",
    403: "The token's subject or roles do not allow this",
    404: "No such resource",
    409: "The resource's current state, or a request in flight with the same Idempotency-Key, forbids this",
    413: "The body is larger than the service accepts",
    415: "The body is not JSON",
    422: "The request is not valid: `errors` names each failing field",
    429: "At capacity, and this client already has its share of the requests in progress; "
    "retry after `Retry-After`",
    503: "At capacity, or the database or the issuer's keys cannot be reached; retry after `Retry-After`",
}


class Problem(BaseModel):
    """RFC 9457 problem details; extension members (``field``, ``order_status``, ...) may follow."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    type: str = Field(examples=["about:blank"], description="A URI naming the kind of problem")
    title: str = Field(examples=["Not Found"])
    status: int = Field(ge=400, le=599, examples=[404])
    detail: str = Field(description="What went wrong this time, for a person")
    instance: str | None = Field(default=None, description="The request path")


class FieldError(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    location: str = Field(examples=["body"], description="body, query, path, header or token")
    field: str | None = Field(examples=["lines.0.quantity"], description="Dotted path; null for the whole")
    message: str
    type: str = Field(examples=["greater_than_equal"])


class ValidationProblem(Problem):
    errors: list[FieldError]


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for child in dependant.dependencies:
        yield from _dependants(child)


RETRY_AFTER = {
    "description": "Seconds to wait before trying again",
    "schema": {"type": "integer", "minimum": 0},
}


def problem_statuses(route: APIRoute | RouteContext) -> tuple[dict[int, str], list[str] | None]:
    """The problem statuses ``route`` can answer (with descriptions) and its required roles (None: public)."""
    dependants = list(_dependants(route.dependant))
    calls = [dependant.call for dependant in dependants]
    # Any URL: a NUL in the query string (see guard); any operation: an outage.
    statuses: set[int] = {422, 429, 503}
    roles: list[str] | None = None
    if any(isinstance(call, SecurityBase) for call in calls):
        statuses |= {401, 403}
        roles = sorted({role for call in calls if isinstance(call, RoleRequirement) for role in call.roles})
    if any(dependant.path_params for dependant in dependants):
        statuses.add(404)
    if any(dependant.body_params for dependant in dependants):
        statuses |= {400, 413, 415}
    if idempotency_key_header in calls:
        statuses.add(409)
    described = {status: DESCRIPTIONS[status] for status in statuses}
    for code, response in route.responses.items():
        status = int(code)
        if status >= 400:
            described[status] = str(response.get("description") or DESCRIPTIONS.get(status, "Error"))
    return described, roles


def _problem_response(status: int, description: str) -> dict[str, Any]:
    model = ValidationProblem if status == 422 else Problem
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": REF.format(model=model.__name__)}}},
    }
    if status in (429, 503):
        response["headers"] = {"Retry-After": RETRY_AFTER}
    return response


def _components() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in (Problem, ValidationProblem):
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def _rewrite(document: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    # Contexts, not app.routes: FastAPI keeps included routers as such, each route seen with its prefix.
    routes = {
        (route.path_format, method.lower()): route
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    }
    for path, item in document.get("paths", {}).items():
        for method, operation in list(item.items()):
            route = routes.get((path, method))
            if route is None:
                continue
            described, roles = problem_statuses(route)
            responses = operation.setdefault("responses", {})
            for status, description in sorted(described.items()):
                responses[str(status)] = _problem_response(status, description)
            if roles is None:
                operation.pop("security", None)
            else:
                operation["security"] = [{BEARER_SCHEME: roles}]
        if "get" in item and "head" not in item:
            item["head"] = _head_twin(item["get"])
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(_components())
    return document


def _head_twin(get: dict[str, Any]) -> dict[str, Any]:
    head = copy.deepcopy(get)
    head["operationId"] = f"{get.get('operationId', 'get')}_head"
    head["summary"] = f"{get.get('summary', '')} (headers only)".strip()
    for response in head.get("responses", {}).values():
        response.pop("content", None)
    return head


def document_api(app: FastAPI) -> None:
    """Make ``app.openapi()`` document every operation's problems and security (see the module docs)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            app.openapi_schema = _rewrite(document, app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
