"""What no Folio route accepts, refused before routing, body parsing or authentication.

- A body larger than ``max_body_bytes``: 413. A declared ``Content-Length`` is checked before anything
  is read; a body without one is counted as it streams in and refused the moment it passes the limit,
  so memory stays flat whatever the client sends.
- A body that is not JSON (``Content-Type`` other than ``application/json`` or ``*/*+json``): 415.
- A NUL character in the path or the query string: 422 (PostgreSQL cannot store it, see ``text``).

It also serves HEAD wherever GET is served: the request goes on as a GET and its answer loses its body.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chassis.http.problems import ProblemError, validation_problem
from chassis.http.text import unstorable

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit; rendered as a 413 problem."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


def too_large(limit: int) -> ProblemError:
    return ProblemError(413, "Content Too Large", f"The request body is larger than {limit} bytes.")


def is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class RequestGuard:
    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal.to_response(instance=_printable_path(scope))(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            # Served as the GET it asks about, with the body dropped on the way out.
            await self.app({**scope, "method": "GET"}, self._counting(receive), _without_body(send))
            return
        await self.app(scope, self._counting(receive), send)

    def _refusal(self, scope: Scope) -> ProblemError | None:
        errors = _unstorable_url_parts(scope)
        if errors:
            return validation_problem(errors, "The URL holds text that cannot be stored: see errors.")
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return too_large(self.max_body_bytes)
        has_body = (length is not None and length != "0") or "transfer-encoding" in headers
        content_type = headers.get("content-type")
        if has_body and content_type is not None and not is_json(content_type):
            return ProblemError(
                415,
                "Unsupported Media Type",
                f"Request bodies are JSON (Content-Type: application/json), not {content_type[:100]!r}.",
                headers={"Accept-Post": "application/json", "Accept-Patch": "application/json"},
            )
        return None

    def _counting(self, receive: Receive) -> Receive:
        received = 0
        limit = self.max_body_bytes

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return receive_within_limit


def _without_body(send: Send) -> Send:
    async def send_without_body(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return send_without_body


def _unstorable_url_parts(scope: Scope) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    reason = unstorable(scope["path"])
    if reason:
        errors.append({"location": "path", "field": None, "message": reason, "type": "string_unstorable"})
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        reason = unstorable(name) or unstorable(value)
        if reason:
            errors.append(
                {"location": "query", "field": name, "message": reason, "type": "string_unstorable"}
            )
    return errors


def _printable_path(scope: Scope) -> str:
    return str(scope["path"]).replace("\x00", "%00")
