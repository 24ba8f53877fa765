"""Idempotency-Key against the real PostgreSQL: one effect per key, the first answer replayed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel, Field
from sqlalchemy import Column, Integer, MetaData, Table, Text, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.responses import Response

from chassis import tables
from chassis.auth import OptionalCaller, TokenVerifier, mint_local_token
from chassis.db import create_engine, session_factory
from chassis.http.idempotency import idempotency_key_header, idempotent, prune_idempotency_keys
from chassis.http.problems import conflict, install_problem_handlers
from chassis.uow import UnitOfWork

pytestmark = pytest.mark.integration

SECRET = "a-local-development-secret-of-32+bytes"

effects = MetaData()
orders = Table(
    "test_orders",
    effects,
    Column("id", Text, primary_key=True),
    Column("customer", Text, nullable=False),
    Column("quantity", Integer, nullable=False),
)


class OrderIn(BaseModel):
    book: str
    quantity: int = Field(gt=0)


@dataclass
class Harness:
    engine: AsyncEngine
    client: httpx.AsyncClient

    async def effects(self) -> int:
        async with self.engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(orders)) or 0)

    async def keys(self) -> list[tuple[str, str, int | None]]:
        async with self.engine.connect() as connection:
            k = tables.idempotency_keys.c
            rows = await connection.execute(select(k.principal, k.key, k.status_code).order_by(k.key))
            return [tuple(row) for row in rows]


def build_app(sessions: async_sessionmaker[AsyncSession], work_seconds: float) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = TokenVerifier(local_secret=SECRET)

    async def place_order(session: AsyncSession, order: OrderIn, customer: str) -> str:
        order_id = str(uuid.uuid4())
        await session.execute(insert(orders).values(id=order_id, customer=customer, quantity=order.quantity))
        if order.quantity > 100:
            raise conflict("not enough stock")
        # Widens the window in which a concurrent twin arrives.
        await asyncio.sleep(work_seconds)
        return order_id

    @app.post("/orders", status_code=201, dependencies=[Depends(idempotency_key_header)])
    async def create(order: OrderIn, request: Request, caller: OptionalCaller) -> Response:
        customer = caller.subject if caller else "anonymous"
        async with (
            UnitOfWork(sessions, source="test") as uow,
            idempotent(request, caller, uow) as slot,
        ):
            if slot.replay is not None:
                return slot.replay
            order_id = await place_order(uow.session, order, customer)
            response = await slot.respond(
                201, {"id": order_id, "quantity": order.quantity}, headers={"Location": f"/orders/{order_id}"}
            )
            await uow.commit()
            return response

    @app.post("/orders-atomic", status_code=202)
    async def create_atomic(order: OrderIn, request: Request, caller: OptionalCaller) -> Response:
        # An answer without a body, known before the command commits.
        async with UnitOfWork(sessions, source="test") as uow, idempotent(request, caller, uow) as slot:
            if slot.replay is not None:
                return slot.replay
            order_id = await place_order(uow.session, order, "atomic")
            response = await slot.respond(202, None, headers={"Location": f"/orders/{order_id}"})
            await uow.commit()
            return response

    @app.post("/orders-broken/{how}")
    async def misbehave(how: str, order: OrderIn, request: Request, caller: OptionalCaller) -> Response:
        async with (
            UnitOfWork(sessions, source="test") as uow,
            idempotent(request, caller, uow) as slot,
        ):
            if slot.replay is not None:
                return slot.replay
            await place_order(uow.session, order, how)
            if how == "crash":
                raise RuntimeError("the process died before recording its answer")
            if how == "forgetful":
                await uow.commit()
                return Response(status_code=204)
            # Answers, but forgets to commit.
            return await slot.respond(201, None)

    return app


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(tables.metadata.create_all)
        await connection.run_sync(effects.create_all)
    app = build_app(session_factory(engine), work_seconds=0.3)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://folio.test") as client:
            yield Harness(engine, client)
    finally:
        await engine.dispose()


def headers(key: str | None, subject: str | None = "alice") -> dict[str, str]:
    result = {"Idempotency-Key": key} if key is not None else {}
    if subject is not None:
        result["Authorization"] = f"Bearer {mint_local_token(SECRET, subject, roles=['customer'])}"
    return result


async def test_repeat_gets_the_first_answer_and_one_effect(harness: Harness) -> None:
    first = await harness.client.post("/orders", json={"book": "b1", "quantity": 2}, headers=headers("k-1"))
    assert first.status_code == 201
    # Same JSON, other whitespace and key order: still the same request.
    again = await harness.client.post(
        "/orders",
        content=b'{ "quantity": 2,  "book": "b1" }',
        headers={**headers("k-1"), "content-type": "application/json"},
    )
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await harness.effects() == 1
    assert await harness.keys() == [("alice", "k-1", 201)]


async def test_same_key_for_another_request_is_refused(harness: Harness) -> None:
    assert (
        await harness.client.post("/orders", json={"book": "b1", "quantity": 2}, headers=headers("k-2"))
    ).is_success
    other_body = await harness.client.post(
        "/orders", json={"book": "b1", "quantity": 3}, headers=headers("k-2")
    )
    assert other_body.status_code == 422
    assert other_body.headers["content-type"] == "application/problem+json"
    assert other_body.json()["title"] == "Idempotency Key Reused"
    assert other_body.json()["errors"][0]["field"] == "Idempotency-Key"
    other_path = await harness.client.post(
        "/orders-atomic", json={"book": "b1", "quantity": 2}, headers=headers("k-2")
    )
    assert other_path.status_code == 422
    assert await harness.effects() == 1


async def test_keys_belong_to_their_caller(harness: Harness) -> None:
    body = {"book": "b1", "quantity": 1}
    alice = await harness.client.post("/orders", json=body, headers=headers("shared"))
    bob = await harness.client.post("/orders", json=body, headers=headers("shared", "bob"))
    anonymous = await harness.client.post("/orders", json=body, headers=headers("shared", None))
    assert {alice.status_code, bob.status_code, anonymous.status_code} == {201}
    assert len({alice.json()["id"], bob.json()["id"], anonymous.json()["id"]}) == 3
    assert sorted(principal for principal, _, _ in await harness.keys()) == ["alice", "anonymous", "bob"]


async def test_without_a_key_every_request_acts(harness: Harness) -> None:
    for _ in range(2):
        assert (
            await harness.client.post("/orders", json={"book": "b1", "quantity": 1}, headers=headers(None))
        ).is_success
    assert await harness.effects() == 2
    assert await harness.keys() == []


async def test_concurrent_duplicates_have_one_effect(harness: Harness) -> None:
    body = {"book": "b1", "quantity": 4}
    responses = await asyncio.gather(
        *(harness.client.post("/orders", json=body, headers=headers("k-race")) for _ in range(8))
    )
    statuses = sorted(response.status_code for response in responses)
    assert 201 in statuses
    assert set(statuses) <= {201, 409}, statuses
    in_progress = [response for response in responses if response.status_code == 409]
    assert in_progress, "the twins should have overlapped the 0.3 s command"
    assert all(response.headers["retry-after"] for response in in_progress)
    assert in_progress[0].headers["content-type"] == "application/problem+json"
    assert await harness.effects() == 1
    winner = next(response for response in responses if response.status_code == 201)
    later = await harness.client.post("/orders", json=body, headers=headers("k-race"))
    assert (later.status_code, later.content) == (201, winner.content)


async def test_a_failed_command_leaves_no_key_and_may_be_retried(harness: Harness) -> None:
    failed = await harness.client.post(
        "/orders", json={"book": "b1", "quantity": 500}, headers=headers("k-fail")
    )
    assert failed.status_code == 409
    assert await harness.keys() == []
    assert await harness.effects() == 0
    retried = await harness.client.post(
        "/orders", json={"book": "b1", "quantity": 500}, headers=headers("k-fail")
    )
    assert retried.status_code == 409
    invalid = await harness.client.post(
        "/orders", json={"book": "b1", "quantity": 0}, headers=headers("k-fail")
    )
    assert invalid.status_code == 422
    assert await harness.keys() == []


async def test_answer_stored_before_commit_commits_with_the_effect(harness: Harness) -> None:
    first = await harness.client.post(
        "/orders-atomic", json={"book": "b1", "quantity": 1}, headers=headers("k-at")
    )
    again = await harness.client.post(
        "/orders-atomic", json={"book": "b1", "quantity": 1}, headers=headers("k-at")
    )
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.headers["location"] == first.headers["location"]
    assert again.content == first.content == b""
    assert await harness.effects() == 1


async def test_a_crash_after_the_handler_ran_leaves_neither_effect_nor_key(harness: Harness) -> None:
    body = {"book": "b1", "quantity": 1}
    crashed = await harness.client.post("/orders-broken/crash", json=body, headers=headers("k-crash"))
    assert crashed.status_code == 500
    # The handler's effect, the key and the answer are one transaction: none of them landed, so the key
    # is free and the client's retry is not told to wait for an answer that will never come.
    assert await harness.effects() == 0
    assert await harness.keys() == []


async def test_an_answer_that_cannot_be_written_takes_the_effect_with_it(harness: Harness) -> None:
    # PostgreSQL itself refuses this key's answer, at the commit, after the effect was written.
    async with harness.engine.begin() as connection:
        await connection.execute(
            text(
                """
                CREATE FUNCTION refuse_answer() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.key = 'k-no-answer' AND NEW.status_code IS NOT NULL THEN
                        RAISE EXCEPTION 'the answer cannot be written';
                    END IF;
                    RETURN NEW;
                END $$
                """
            )
        )
        await connection.execute(
            text(
                "CREATE TRIGGER refuse_answer BEFORE INSERT OR UPDATE ON idempotency_keys "
                "FOR EACH ROW EXECUTE FUNCTION refuse_answer()"
            )
        )
    body = {"book": "b1", "quantity": 1}
    failed = await harness.client.post("/orders", json=body, headers=headers("k-no-answer"))
    assert failed.status_code == 500
    # An effect without its recorded answer is impossible: both are in the one transaction that failed.
    assert await harness.effects() == 0
    assert await harness.keys() == []
    answered = await harness.client.post("/orders", json=body, headers=headers("k-answered"))
    assert answered.status_code == 201
    assert await harness.effects() == 1
    assert await harness.keys() == [("alice", "k-answered", 201)]


async def test_route_that_forgets_to_store_fails_loudly(harness: Harness) -> None:
    response = await harness.client.post(
        "/orders-broken/forgetful", json={"book": "b1", "quantity": 1}, headers=headers("k-forgot")
    )
    assert response.status_code == 500
    assert await harness.keys() == []
    assert await harness.effects() == 0


async def test_route_that_answers_without_committing_fails_loudly(harness: Harness) -> None:
    response = await harness.client.post(
        "/orders-broken/uncommitted", json={"book": "b1", "quantity": 1}, headers=headers("k-uncommitted")
    )
    assert response.status_code == 500
    assert await harness.keys() == []
    assert await harness.effects() == 0


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
async def test_malformed_key_is_422(harness: Harness, key: str) -> None:
    response = await harness.client.post(
        "/orders", json={"book": "b1", "quantity": 1}, headers=headers(None) | {"Idempotency-Key": key}
    )
    assert response.status_code == 422
    assert await harness.effects() == 0


async def test_openapi_documents_the_header(harness: Harness) -> None:
    schema = (await harness.client.get("/openapi.json")).json()
    names = [p["name"] for p in schema["paths"]["/orders"]["post"]["parameters"]]
    assert "Idempotency-Key" in names


async def test_prune_removes_only_old_keys(harness: Harness) -> None:
    for key in ("old", "new"):
        await harness.client.post("/orders", json={"book": "b1", "quantity": 1}, headers=headers(key))
    async with harness.engine.begin() as connection:
        k = tables.idempotency_keys.c
        await connection.execute(
            update(tables.idempotency_keys)
            .where(k.key == "old")
            .values(created_at=func.now() - text("interval '25 hours'"))
        )
    assert await prune_idempotency_keys(harness.engine, timedelta(hours=24)) == 1
    assert [key for _, key, _ in await harness.keys()] == ["new"]
