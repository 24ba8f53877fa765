"""RFC 9457 problem details for every error an API answers.

Raise :class:`ProblemError` (or one of the helpers) anywhere below a route::

    raise not_found("book", book_id)
    raise conflict("the order is already completed", order_status="completed")
    raise ProblemError(422, "Unknown book", detail=..., type_="https://folio.example/problems/unknown-book")

:func:`install_problem_handlers` (called by the app factory) renders those, request validation errors
(422 with an ``errors`` list naming each failing field, malformed JSON included), Starlette's HTTP errors
(404 unknown route, 405, ...), an unreachable database (503 with ``Retry-After``: an outage is not a bug)
and any other unexpected exception (500, logged, nothing internal in the body).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chassis.messaging.unreachable import is_unreachable

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
ABOUT_BLANK = "about:blank"
# Members RFC 9457 defines; an extension must not shadow them.
_STANDARD_MEMBERS = frozenset({"type", "title", "status", "detail", "instance"})
# What a 503 answered during a database outage asks the client to wait.
OUTAGE_RETRY_AFTER_SECONDS = 2


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ProblemError(Exception):
    """An error answered as ``application/problem+json``; extra keyword arguments become extension members."""

    def __init__(
        self,
        status: int,
        title: str | None = None,
        detail: str | None = None,
        type_: str | None = None,
        *,
        instance: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        clash = _STANDARD_MEMBERS & extensions.keys()
        if clash:
            raise ValueError(f"extension members may not be named {sorted(clash)}")
        self.status = status
        self.title = title or _phrase(status)
        self.detail = detail
        self.type = type_ or ABOUT_BLANK
        self.instance = instance
        self.headers = dict(headers or {})
        self.extensions = extensions
        super().__init__(f"{status} {self.title}" + (f": {detail}" if detail else ""))

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        # Every problem has a detail, so clients can always show one line to a person.
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail if self.detail is not None else f"{self.title}.",
        }
        if self.instance or instance:
            body["instance"] = self.instance or instance
        body.update(self.extensions)
        return body

    def to_response(self, instance: str | None = None) -> Response:
        return problem_response(self.to_dict(instance), self.status, self.headers)


def problem_response(
    body: Mapping[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    return Response(content, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON)


def bad_request(detail: str | None = None, **extensions: Any) -> ProblemError:
    return ProblemError(400, "Bad Request", detail, **extensions)


def unauthorized(detail: str | None = None, *, error: str | None = None) -> ProblemError:
    """401 with the ``WWW-Authenticate: Bearer`` challenge of RFC 6750 (``error`` e.g. ``invalid_token``)."""
    challenge = "Bearer"
    if error:
        challenge += f' error="{error}"'
        if detail:
            # A quoted-string in a header: ASCII only, no backslashes or double quotes.
            description = detail.encode("ascii", "replace").decode().replace("\\", "").replace('"', "'")
            challenge += f', error_description="{description}"'
    return ProblemError(401, "Unauthorized", detail, headers={"WWW-Authenticate": challenge})


def forbidden(detail: str | None = None, **extensions: Any) -> ProblemError:
    return ProblemError(403, "Forbidden", detail, **extensions)


def not_found(what: str = "resource", id_: object = None, detail: str | None = None) -> ProblemError:
    """404 for ``what`` (a book, an order) with id ``id_``."""
    if detail is None:
        detail = f"{what} {id_} does not exist" if id_ is not None else f"{what} does not exist"
    return ProblemError(404, "Not Found", detail)


def conflict(detail: str | None = None, title: str = "Conflict", **extensions: Any) -> ProblemError:
    """409: the request is valid but the resource's current state forbids it."""
    return ProblemError(409, title, detail, **extensions)


def invalid_field(
    field: str | None, message: str, kind: str = "value_error", *, location: str = "body"
) -> ProblemError:
    """422 for one field a service's own rule refused (after schema validation passed)."""
    return validation_problem([{"location": location, "field": field, "message": message, "type": kind}])


def validation_problem(errors: Sequence[Mapping[str, Any]], detail: str | None = None) -> ProblemError:
    """422 listing failing fields, each ``{"location", "field", "message", "type"}``."""
    return ProblemError(
        422,
        "Unprocessable Content",
        detail or "The request is not valid: see errors.",
        errors=[dict(error) for error in errors],
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors without their ``input`` (may be large or private) and with a dotted field path."""
    errors: list[dict[str, Any]] = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        location = loc[0] if loc else "body"
        kind = str(error.get("type", "invalid"))
        if kind == "json_invalid":
            error_detail = (error.get("ctx") or {}).get("error")
            message = "Malformed JSON" + (f": {error_detail}" if error_detail else "")
            position = loc[1] if len(loc) > 1 else None
            errors.append(
                {"location": location, "field": None, "message": message, "type": kind, "position": position}
            )
            continue
        errors.append(
            {
                "location": location,
                "field": ".".join(loc[1:]) or None,
                "message": error.get("msg", ""),
                "type": kind,
            }
        )
    return errors


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return exc.to_response(instance=request.url.path)


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return validation_problem(_validation_errors(exc)).to_response(instance=request.url.path)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    # Route contexts: FastAPI keeps included routers whole; a context is one route under its prefix.
    for route in iter_route_contexts(request.app.router.routes):
        route_methods = route.methods
        if route_methods and route.matches(request.scope)[0] != Match.NONE:
            methods.update(route_methods)
    if "GET" in methods:
        methods.add("HEAD")  # served by the request guard
    return sorted(methods)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code < 400:
        # Not an error (e.g. 304 raised as an exception): no problem body.
        return Response(status_code=exc.status_code, headers=dict(exc.headers or {}))
    title = _phrase(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    headers = dict(exc.headers or {})
    if exc.status_code == 404 and detail is None:
        detail = f"Nothing is served at {request.url.path}."
    elif exc.status_code == 405:
        allowed = _allowed_methods(request) or [m.strip() for m in headers.get("Allow", "").split(",")]
        headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not served at {request.url.path}; allowed: {headers['Allow']}."
    problem = ProblemError(exc.status_code, title, detail, headers=headers)
    return problem.to_response(instance=request.url.path)


class _UnexpectedErrors:
    """Turns an exception no handler knew into a 500 problem; the traceback goes to the log only.

    A middleware rather than an ``Exception`` handler because Starlette re-raises after running those,
    which would log every failure twice and break in-process test clients.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as error:
            if started:
                logger.exception("error after answering %s %s", scope.get("method"), scope.get("path"))
                raise
            if is_unreachable(error):
                # The database is away: not the caller's fault nor a bug, and worth asking again shortly.
                method, path = scope.get("method"), scope.get("path")
                logger.warning("%s %s: a dependency is unreachable: %s", method, path, error)
                problem = ProblemError(
                    503,
                    "Service Unavailable",
                    "A service this API depends on cannot be reached right now; try again shortly.",
                    headers={"Retry-After": str(OUTAGE_RETRY_AFTER_SECONDS)},
                )
                await problem.to_response(instance=scope.get("path"))(scope, receive, send)
                return
            logger.exception("unhandled error answering %s %s", scope.get("method"), scope.get("path"))
            body = ProblemError(500, "Internal Server Error", "An unexpected error occurred.").to_dict(
                instance=scope.get("path")
            )
            await problem_response(body, 500)(scope, receive, send)


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error of ``app`` as problem details. Call once, while building the app."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_middleware(_UnexpectedErrors)
