"""``/api/v1/books/{book_id}/...``: a customer's own feedback (token needed), a book's feedback and summary
(anyone).

Submitting is offered twice: ``PUT .../feedback/mine`` (naturally idempotent) and ``POST .../feedback``
(honours ``Idempotency-Key``). Both answer 201 when the caller had no feedback on the book, 200 when it
replaced theirs. A book rating does not know, or one the catalog deleted, answers 404 (see ``problems``).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from chassis import (
    Caller,
    CurrentCaller,
    IdempotencySlot,
    Page,
    Pagination,
    idempotency_key_header,
    idempotent,
)
from rating.application import feedback_handlers, queries
from rating.application.commands import DeleteFeedback, SubmitFeedback
from rating.application.views import BookFeedbackQuery
from rating.entrypoints.dependencies import Uow
from rating.entrypoints.problems import as_problems
from rating.entrypoints.schemas import FeedbackIn, FeedbackOut, MyFeedbackOut, SummaryOut

PREFIX = "/api/v1/books"
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: {"description": "Unknown or deleted book, or no such feedback"}
}


def _mine(book_id: UUID) -> str:
    return f"{PREFIX}/{book_id}/feedback/mine"


async def _submit(
    book_id: UUID, body: FeedbackIn, caller: Caller, uow: Uow, slot: IdempotencySlot | None
) -> Response:
    command = SubmitFeedback(
        book_id=book_id, customer_id=caller.subject, stars=body.stars, comment=body.comment
    )
    outcome = await feedback_handlers.submit_feedback(command, uow)
    code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
    answer = MyFeedbackOut.of(outcome.feedback)
    headers = {"Location": _mine(book_id)}
    if slot is not None:
        response = await slot.respond(code, answer, headers=headers)
    else:
        response = Response(answer.model_dump_json(), code, headers, media_type="application/json")
    await uow.commit()
    return response


def feedback_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["feedback"])

    @router.put(
        "/{book_id}/feedback/mine",
        response_model=MyFeedbackOut,
        responses={status.HTTP_201_CREATED: {"model": MyFeedbackOut}, **_NOT_FOUND},
        summary="Give or replace my feedback on a book",
    )
    async def put_mine(book_id: UUID, body: FeedbackIn, caller: CurrentCaller, uow: Uow) -> Response:
        with as_problems():
            async with uow:
                return await _submit(book_id, body, caller, uow, None)

    @router.post(
        "/{book_id}/feedback",
        response_model=MyFeedbackOut,
        status_code=status.HTTP_201_CREATED,
        responses={status.HTTP_200_OK: {"model": MyFeedbackOut}, **_NOT_FOUND},
        dependencies=[Depends(idempotency_key_header)],
        summary="Give or replace my feedback on a book",
    )
    async def post_feedback(
        book_id: UUID, body: FeedbackIn, request: Request, caller: CurrentCaller, uow: Uow
    ) -> Response:
        with as_problems():
            async with uow, idempotent(request, caller, uow) as slot:
                if slot.replay is not None:
                    return slot.replay
                return await _submit(book_id, body, caller, uow, slot)

    @router.get(
        "/{book_id}/feedback/mine", response_model=MyFeedbackOut, responses=_NOT_FOUND, summary="My feedback"
    )
    async def get_mine(book_id: UUID, caller: CurrentCaller, uow: Uow) -> MyFeedbackOut:
        with as_problems():
            async with uow:
                return MyFeedbackOut.of(await queries.my_feedback(book_id, caller.subject, uow))

    @router.delete(
        "/{book_id}/feedback/mine",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=_NOT_FOUND,
        summary="Delete my feedback on a book",
    )
    async def delete_mine(book_id: UUID, caller: CurrentCaller, uow: Uow) -> Response:
        with as_problems():
            async with uow:
                await feedback_handlers.delete_feedback(DeleteFeedback(book_id, caller.subject), uow)
                await uow.commit()
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get(
        "/{book_id}/feedback",
        response_model=Page[FeedbackOut],
        responses=_NOT_FOUND,
        summary="A book's feedback, newest first",
    )
    async def list_feedback(
        book_id: UUID,
        uow: Uow,
        paging: Pagination,
        verified_first: Annotated[
            bool, Query(description="Verified purchases first, each group newest first")
        ] = False,
    ) -> Page[FeedbackOut]:
        query = BookFeedbackQuery(
            book_id=book_id, offset=paging.offset, limit=paging.limit, verified_first=verified_first
        )
        with as_problems():
            async with uow:
                found = await queries.book_feedback(query, uow)
        return Page.of([FeedbackOut.of(view) for view in found.items], total=found.total, params=paging)

    @router.get(
        "/{book_id}/summary",
        response_model=SummaryOut,
        responses=_NOT_FOUND,
        summary="A book's average stars, count and distribution",
    )
    async def summary(book_id: UUID, uow: Uow) -> SummaryOut:
        with as_problems():
            async with uow:
                return SummaryOut.of(await queries.book_summary(book_id, uow))

    return router
