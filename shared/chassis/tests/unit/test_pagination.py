from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from chassis.http.pagination import Page, PageParams, Pagination
from chassis.http.problems import install_problem_handlers

BOOKS = [f"book-{n}" for n in range(45)]


class BookOut(BaseModel):
    title: str


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/books")
    async def browse(paging: Pagination) -> Page[BookOut]:
        chunk = BOOKS[paging.offset : paging.offset + paging.limit]
        return Page[BookOut].of([BookOut(title=t) for t in chunk], total=len(BOOKS), params=paging)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client


async def test_default_page(client: httpx.AsyncClient) -> None:
    body = (await client.get("/books")).json()
    assert (body["total"], body["page"], body["size"], body["pages"]) == (45, 1, 20, 3)
    assert [item["title"] for item in body["items"]] == BOOKS[:20]


async def test_last_partial_page_and_beyond(client: httpx.AsyncClient) -> None:
    body = (await client.get("/books", params={"page": 3})).json()
    assert [item["title"] for item in body["items"]] == BOOKS[40:]
    body = (await client.get("/books", params={"page": 9, "size": 100})).json()
    assert body["items"] == []
    assert body["pages"] == 1


@pytest.mark.parametrize("params", [{"page": 0}, {"size": 0}, {"size": 101}, {"page": "x"}])
async def test_out_of_range_parameters_are_422(
    client: httpx.AsyncClient, params: dict[str, str | int]
) -> None:
    response = await client.get("/books", params=params)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["location"] == "query"
    assert error["field"] == next(iter(params))


def test_page_arithmetic() -> None:
    assert Page[int].of([], total=0, params=PageParams()).pages == 0
    assert Page[int].of([1], total=21, params=PageParams(page=2, size=20)).pages == 2
    assert PageParams(page=3, size=10).offset == 20
    with pytest.raises(ValueError, match="size"):
        PageParams(size=101)


async def test_openapi_documents_the_page_shape(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    parameters = {p["name"]: p for p in schema["paths"]["/books"]["get"]["parameters"]}
    assert parameters["size"]["schema"]["maximum"] == 100
    assert set(schema["components"]["schemas"]["Page_BookOut_"]["required"]) >= {"items", "total", "pages"}
