"""``/api/v1/books``: browse and read books (anyone), create, change, restock and delete them (admin)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from catalog.application import book_handlers, queries
from catalog.application.commands import CreateBook, DeleteBook, RestockBook, UpdateBook
from catalog.application.views import BookSort, BrowseBooks
from catalog.domain.book import KEEP
from catalog.entrypoints.dependencies import Settings, Uow
from catalog.entrypoints.problems import as_problems
from catalog.entrypoints.schemas import BookIn, BookOut, BookPatch, MoneyIn, RestockIn, RestockOut
from chassis import AdminCaller, Page, Pagination, idempotency_key_header, idempotent, invalid_field

_ISBN_TAKEN: dict[int | str, dict[str, Any]] = {409: {"description": "Another book has this ISBN"}}

PRICE_QUERY = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$"


def _check_currency(price: MoneyIn | None, settings: Settings) -> None:
    if price is not None and price.currency != settings.currency:
        raise invalid_field("price.currency", f"the catalog sells in {settings.currency}")


def books_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/books", tags=["books"])

    @router.get("", response_model=Page[BookOut], summary="Browse and search books")
    async def browse(
        uow: Uow,
        paging: Pagination,
        q: Annotated[
            str | None, Query(max_length=200, description="Full-text search in titles and descriptions")
        ] = None,
        category_id: UUID | None = None,
        author_id: UUID | None = None,
        publisher_id: UUID | None = None,
        min_price: Annotated[str | None, Query(pattern=PRICE_QUERY, examples=["5.00"])] = None,
        max_price: Annotated[str | None, Query(pattern=PRICE_QUERY, examples=["20.00"])] = None,
        in_stock: bool | None = None,
        sort: Annotated[
            BookSort | None, Query(description="Default: relevance when searching, title otherwise")
        ] = None,
    ) -> Page[BookOut]:
        low = Decimal(min_price) if min_price is not None else None
        high = Decimal(max_price) if max_price is not None else None
        if low is not None and high is not None and low > high:
            raise invalid_field("max_price", "max_price is below min_price", location="query")
        query = BrowseBooks(
            text=q,
            category_id=category_id,
            author_id=author_id,
            publisher_id=publisher_id,
            min_price=low,
            max_price=high,
            in_stock=in_stock,
            sort=sort,
            offset=paging.offset,
            limit=paging.limit,
        )
        async with uow:
            found = await queries.browse_books(query, uow)
        return Page.of([BookOut.of(book) for book in found.items], total=found.total, params=paging)

    @router.get("/{book_id}", response_model=BookOut, summary="A book")
    async def read(book_id: UUID, uow: Uow) -> BookOut:
        with as_problems():
            async with uow:
                return BookOut.of(await queries.book_detail(book_id, uow))

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        response_model=BookOut,
        dependencies=[Depends(idempotency_key_header)],
        responses=_ISBN_TAKEN,
        summary="Add a book (admin)",
    )
    async def create(
        body: BookIn, request: Request, caller: AdminCaller, uow: Uow, settings: Settings
    ) -> Response:
        _check_currency(body.price, settings)
        command = CreateBook(
            isbn=body.isbn,
            title=body.title,
            description=body.description,
            price=body.price.to_input(),
            stock=body.stock,
            author_ids=tuple(body.author_ids),
            category_id=body.category_id,
            publisher_id=body.publisher_id,
        )
        with as_problems():
            async with uow, idempotent(request, caller, uow) as slot:
                if slot.replay is not None:
                    return slot.replay
                book_id = await book_handlers.create_book(command, uow)
                book = BookOut.of(await queries.book_detail(book_id, uow))
                headers = {"Location": f"{router.prefix}/{book_id}"}
                response = await slot.respond(status.HTTP_201_CREATED, book, headers=headers)
                await uow.commit()
                return response

    @router.patch(
        "/{book_id}",
        response_model=BookOut,
        responses=_ISBN_TAKEN,
        summary="Change a book's details or price (admin)",
    )
    async def change(
        book_id: UUID, body: BookPatch, caller: AdminCaller, uow: Uow, settings: Settings
    ) -> BookOut:
        _check_currency(body.price, settings)
        given = body.model_fields_set
        command = UpdateBook(
            book_id=book_id,
            isbn=body.isbn if body.isbn is not None else KEEP,
            title=body.title if body.title is not None else KEEP,
            description=body.description if body.description is not None else KEEP,
            price=body.price.to_input() if body.price is not None else KEEP,
            author_ids=tuple(body.author_ids) if body.author_ids is not None else KEEP,
            category_id=body.category_id if "category_id" in given else KEEP,
            publisher_id=body.publisher_id if "publisher_id" in given else KEEP,
        )
        with as_problems():
            async with uow:
                await book_handlers.update_book(command, uow)
                book = BookOut.of(await queries.book_detail(book_id, uow))
                await uow.commit()
                return book

    @router.delete("/{book_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a book (admin)")
    async def remove(book_id: UUID, caller: AdminCaller, uow: Uow) -> Response:
        with as_problems():
            async with uow:
                await book_handlers.delete_book(DeleteBook(book_id), uow)
                await uow.commit()
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/{book_id}/restock",
        response_model=RestockOut,
        dependencies=[Depends(idempotency_key_header)],
        summary="Add copies to a book's stock (admin)",
    )
    async def restock(
        book_id: UUID, body: RestockIn, request: Request, caller: AdminCaller, uow: Uow
    ) -> Response:
        with as_problems():
            async with uow, idempotent(request, caller, uow) as slot:
                if slot.replay is not None:
                    return slot.replay
                stock = await book_handlers.restock_book(RestockBook(book_id, body.quantity), uow)
                response = await slot.respond(status.HTTP_200_OK, RestockOut(id=book_id, stock=stock))
                await uow.commit()
                return response

    return router
