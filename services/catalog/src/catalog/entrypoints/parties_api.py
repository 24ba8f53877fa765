"""``/api/v1/authors``, ``/categories``, ``/publishers``: lists and details for anyone, creation for admins.

The three resources behave alike, so one factory builds a router for each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from catalog.application import party_handlers, queries
from catalog.application.commands import CreateAuthor, CreateCategory, CreatePublisher
from catalog.application.ports import CatalogUow
from catalog.application.views import ListParties, PartyView, Slice
from catalog.entrypoints.dependencies import Uow
from catalog.entrypoints.problems import as_problems
from catalog.entrypoints.schemas import PartyIn, PartyOut
from chassis import AdminCaller, Page, Pagination, idempotency_key_header, idempotent


def party_router(
    *,
    path: str,
    kind: str,
    create: Callable[[str, CatalogUow], Awaitable[UUID]],
    listing: Callable[[ListParties, CatalogUow], Awaitable[Slice[PartyView]]],
    detail: Callable[[UUID, CatalogUow], Awaitable[PartyView]],
    unique_names: bool,
) -> APIRouter:
    router = APIRouter(prefix=f"/api/v1/{path}", tags=[path])
    clashes: dict[int | str, dict[str, Any]] | None = (
        {409: {"description": f"A {kind} of this name exists"}} if unique_names else None
    )

    @router.get("", response_model=Page[PartyOut], summary=f"List {path}")
    async def list_all(
        uow: Uow,
        paging: Pagination,
        name: Annotated[str | None, Query(max_length=200, description="Part of the name")] = None,
    ) -> Page[PartyOut]:
        async with uow:
            found = await listing(ListParties(name=name, offset=paging.offset, limit=paging.limit), uow)
        return Page.of([PartyOut.of(party) for party in found.items], total=found.total, params=paging)

    @router.get("/{id}", response_model=PartyOut, summary=f"One {kind}")
    async def read(id: UUID, uow: Uow) -> PartyOut:
        with as_problems():
            async with uow:
                return PartyOut.of(await detail(id, uow))

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        response_model=PartyOut,
        dependencies=[Depends(idempotency_key_header)],
        responses=clashes,
        summary=f"Add a {kind} (admin)",
    )
    async def add(body: PartyIn, request: Request, caller: AdminCaller, uow: Uow) -> Response:
        with as_problems():
            async with uow, idempotent(request, caller, uow) as slot:
                if slot.replay is not None:
                    return slot.replay
                new_id = await create(body.name, uow)
                created = PartyOut.of(await detail(new_id, uow))
                headers = {"Location": f"{router.prefix}/{new_id}"}
                response = await slot.respond(status.HTTP_201_CREATED, created, headers=headers)
                await uow.commit()
                return response

    return router


def _creator(command: Callable[[str], Any], handler: Callable[[Any, CatalogUow], Awaitable[UUID]]) -> Any:
    async def create(name: str, uow: CatalogUow) -> UUID:
        return await handler(command(name), uow)

    return create


def authors_router() -> APIRouter:
    return party_router(
        path="authors",
        kind="author",
        create=_creator(CreateAuthor, party_handlers.create_author),
        listing=queries.list_authors,
        detail=queries.author_detail,
        unique_names=False,
    )


def categories_router() -> APIRouter:
    return party_router(
        path="categories",
        kind="category",
        create=_creator(CreateCategory, party_handlers.create_category),
        listing=queries.list_categories,
        detail=queries.category_detail,
        unique_names=True,
    )


def publishers_router() -> APIRouter:
    return party_router(
        path="publishers",
        kind="publisher",
        create=_creator(CreatePublisher, party_handlers.create_publisher),
        listing=queries.list_publishers,
        detail=queries.publisher_detail,
        unique_names=True,
    )
