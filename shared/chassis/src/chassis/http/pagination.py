"""Page-based lists with a total: ``?page=2&size=20`` in, :class:`Page` out.

@router.get("/books", response_model=Page[BookOut])
async def browse(paging: Pagination, ...) -> Page[BookOut]:
    rows, total = await books.search(..., offset=paging.offset, limit=paging.limit)
    return Page.of([BookOut.from_row(row) for row in rows], total=total, params=paging)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, Self, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Deeper pages are refused (422): the offset stays far inside 64 bits and no query scans that far.
MAX_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class PageParams:
    """Which page the client asked for (1-based) and how many items per page."""

    page: int = 1
    size: int = DEFAULT_PAGE_SIZE

    def __post_init__(self) -> None:
        if not 1 <= self.page <= MAX_PAGE or not 1 <= self.size <= MAX_PAGE_SIZE:
            raise ValueError(f"page must be within 1..{MAX_PAGE} and size within 1..{MAX_PAGE_SIZE}")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def limit(self) -> int:
        return self.size


async def page_params(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1")] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    return PageParams(page=page, size=size)


Pagination = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    """One page of a list, with the total across all pages."""

    items: list[T]
    total: int = Field(ge=0, description="Items across all pages")
    page: int = Field(ge=1)
    size: int = Field(ge=1)
    pages: int = Field(ge=0, description="Number of pages (0 when there are no items)")

    @classmethod
    def of(cls, items: Sequence[T], *, total: int, params: PageParams) -> Self:
        return cls(
            items=list(items),
            total=total,
            page=params.page,
            size=params.size,
            pages=math.ceil(total / params.size),
        )
