"""``Idempotency-Key`` on POST: a repeated request gets the first answer again instead of a second effect.

A route wraps its work in :func:`idempotent`, on the command's unit of work::

    @router.post("/orders", status_code=202, dependencies=[Depends(idempotency_key_header)])
    async def place_order(body: PlaceOrderIn, request: Request, caller: CurrentCaller, uow: OrderingUow):
        async with uow, idempotent(request, caller, uow) as slot:
            if slot.replay is not None:
                return slot.replay
            order_id = await place_order_handler(body.to_command(caller), uow)  # writes, never commits
            location = f"/api/v1/orders/{order_id}"
            response = await slot.respond(202, OrderAccepted(id=order_id), headers={"Location": location})
            await uow.commit()
            return response

What it guarantees, per caller (``sub``) and key:

- One transaction, one commit: the key is written on entering the block, ``respond``/``store`` keeps the
  answer, and the route's single ``uow.commit()`` writes the answer (a step registered with
  :meth:`UnitOfWork.before_commit`) just before it commits the key, the effects and their outbox rows
  together. A commit without an answer raises before anything lands, as does an answer given after the
  commit or a block left with an answer but no commit: no effect is ever committed without its answer, and
  a failed command (an exception) leaves no key, so the client may retry it.
- Same key, same method, path, query and body: the recorded answer (status, body, headers such as
  ``Location``) is replayed byte for byte, with ``Idempotent-Replayed: true``.
- Same key, different request: 422 problem details. Same key while the first request is still running:
  409 problem details with ``Retry-After``.
- Without the header the slot does nothing: the route runs as usual.

Keys are pruned after ``idempotency_retention_hours`` by :func:`prune_idempotency_keys` (scheduled by the
runner). Needs PostgreSQL at READ COMMITTED (the default).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.responses import Response

from chassis.auth.caller import Caller
from chassis.http.problems import ProblemError, conflict, validation_problem
from chassis.outbox.pruning import delete_in_chunks
from chassis.tables import idempotency_keys
from chassis.uow import UnitOfWork

logger = logging.getLogger(__name__)

# In chunks, so a long backlog of keys is never one huge transaction; found through the created_at index and
# deleted by ctid, as the outbox is pruned (chassis.outbox.pruning).
_PRUNE_KEYS = text(
    """
    DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM idempotency_keys WHERE created_at < now() - CAST(:age AS INTERVAL) LIMIT :chunk
    ))
    """
)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
ANONYMOUS = "anonymous"
MAX_KEY_LENGTH = 255
# First half of the two-int advisory lock key: keeps these locks apart from any other advisory lock user.
_LOCK_NAMESPACE = 0x1DE4
# Response headers worth replaying; hop-by-hop and length headers are recomputed.
_SKIPPED_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "date", "server"})


async def idempotency_key_header(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            max_length=MAX_KEY_LENGTH,
            description="Unique per intended operation (e.g. a UUID): a retry with the same key and body "
            "gets the first answer instead of a second effect.",
        ),
    ] = None,
) -> str | None:
    """Put in a route's ``dependencies`` to document the header in OpenAPI (:func:`idempotent` reads it)."""
    return idempotency_key


class IdempotencySlot:
    """What :func:`idempotent` yields: a ``replay`` to return, or the place to ``store`` the answer."""

    def __init__(self, session: AsyncSession, *, principal: str, key: str | None) -> None:
        self._session = session
        self.principal = principal
        self.key = key
        self.replay: Response | None = None
        self.stored = False
        self._request_columns: dict[str, str] = {}
        self._answer: dict[str, Any] | None = None
        self._written = False

    @property
    def active(self) -> bool:
        """True when the request carried a key and is the first with it (its answer must be stored)."""
        return self.key is not None and self.replay is None

    async def store(
        self,
        status_code: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        media_type: str = "application/json",
    ) -> Response:
        """Keep the answer for this key (no-op without a key) and return it as a response; the unit of work's
        commit writes it.

        ``body`` is a pydantic model, bytes, or anything ``jsonable_encoder`` takes; None for no body.
        """
        content = _render(body)
        response_headers = {name: value for name, value in (headers or {}).items()}
        if content and not any(name.lower() == "content-type" for name in response_headers):
            response_headers["content-type"] = media_type
        response = Response(content, status_code=status_code, headers=response_headers)
        if not self.active:
            return response
        recorded = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in response.raw_headers
            if name.decode("latin-1") not in _SKIPPED_HEADERS
        }
        if self._written:
            raise RuntimeError("an idempotent route answered after its unit of work committed")
        self._answer = {"status_code": status_code, "response_headers": recorded, "response_body": content}
        self.stored = True
        return response

    # Reads better in a route's return statement.
    respond = store

    async def write_answer(self) -> None:
        """Run by the unit of work's commit: the answer goes in the command's own transaction, or nothing
        commits."""
        if self._answer is None:
            raise RuntimeError("an idempotent route committed without slot.store()/slot.respond()")
        # An upsert: the key row is normally there already.
        await self._session.execute(
            insert(idempotency_keys)
            .values(principal=self.principal, key=self.key, **self._request_columns, **self._answer)
            .on_conflict_do_update(
                index_elements=[idempotency_keys.c.principal, idempotency_keys.c.key], set_=self._answer
            )
        )
        self._written = True


def _render(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, BaseModel):
        return body.model_dump_json().encode()
    return json.dumps(jsonable_encoder(body), ensure_ascii=False, separators=(",", ":")).encode()


def _fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    try:
        # Same JSON, different whitespace or key order: the same request.
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    return _digest(method.encode(), path.encode(), query.encode(), canonical).hex()


def _digest(*parts: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        # Length-prefixed, so no two different part lists hash alike.
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def _lock_id(principal: str, key: str) -> int:
    return int.from_bytes(_digest(principal.encode(), key.encode())[:4], "big", signed=True)


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise validation_problem(
            [
                {
                    "location": "header",
                    "field": HEADER,
                    "message": f"must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
                    "type": "value_error",
                }
            ]
        )


def _in_progress() -> ProblemError:
    problem = conflict(
        "A request with this Idempotency-Key is still being processed; retry later.",
        title="Request In Progress",
    )
    problem.headers["Retry-After"] = "1"
    return problem


@asynccontextmanager
async def idempotent(
    request: Request, caller: Caller | None, uow: UnitOfWork
) -> AsyncIterator[IdempotencySlot]:
    """Honour the request's ``Idempotency-Key`` within ``uow``'s transaction (see the module docs).

    With a key, the key, the effects and the answer are the one transaction that the route's
    ``uow.commit()`` commits. A route that has a key, gets no replay and commits without ``store``/
    ``respond``, or leaves the block without committing, is a bug and raises (nothing is committed).
    """
    key = request.headers.get(HEADER)
    session = uow.session
    slot = IdempotencySlot(session, principal=caller.subject if caller else ANONYMOUS, key=key)
    if key is None:
        yield slot
        return
    _check_key(key)
    method, path, query = request.method, request.url.path, request.url.query
    fingerprint = _fingerprint(method, path, query, await request.body())
    lock_id = _lock_id(slot.principal, key)
    # Held to the end of the transaction: a concurrent twin fails to take it and is told to wait.
    if not await session.scalar(select(func.pg_try_advisory_xact_lock(_LOCK_NAMESPACE, lock_id))):
        await uow.rollback()
        raise _in_progress()
    row = (
        await session.execute(
            select(idempotency_keys).where(
                idempotency_keys.c.principal == slot.principal, idempotency_keys.c.key == key
            )
        )
    ).first()
    if row is not None:
        if (row.method, row.path, row.request_hash) != (method, path, fingerprint):
            await uow.rollback()
            raise ProblemError(
                422,
                "Idempotency Key Reused",
                "This Idempotency-Key was already used for a different request.",
                errors=[
                    {
                        "location": "header",
                        "field": HEADER,
                        "message": "already used for a different method, path or body",
                        "type": "idempotency_key_reused",
                    }
                ],
            )
        if row.status_code is None:
            # Only rows written before answers committed with their command can lack one.
            await uow.rollback()
            raise _in_progress()
        headers = dict(row.response_headers or {})
        headers[REPLAYED_HEADER] = "true"
        slot.replay = Response(row.response_body or b"", status_code=row.status_code, headers=headers)
        yield slot
        return
    slot._request_columns = {"method": method, "path": path, "request_hash": fingerprint}
    await session.execute(
        insert(idempotency_keys).values(principal=slot.principal, key=key, **slot._request_columns)
    )
    uow.before_commit(slot.write_answer)
    yield slot
    if not slot._written:
        # The unit of work rolls the key and the effects back as it closes.
        raise RuntimeError("an idempotent route returned without committing its unit of work")


async def prune_idempotency_keys(engine: AsyncEngine, retention: timedelta, *, chunk: int = 5000) -> int:
    """Delete keys older than ``retention``; returns how many went. Run it periodically."""
    deleted = await delete_in_chunks(engine, _PRUNE_KEYS, retention, chunk)
    if deleted:
        logger.info("pruned %d idempotency keys older than %s", deleted, retention)
    return deleted
