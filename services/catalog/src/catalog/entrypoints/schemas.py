"""The API's request and response bodies: what clients send and see, kept apart from the domain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Self
from uuid import UUID

from pydantic import BaseModel, Field, StrictInt, field_validator, model_validator

from catalog.application.commands import PriceInput
from catalog.application.views import BookView, PartyView
from catalog.domain.errors import InvalidIsbn
from catalog.domain.isbn import Isbn
from catalog.domain.names import MAX_DESCRIPTION, MAX_NAME, MAX_TITLE
from chassis import RequestBody

# Non-negative, at most two decimals, as a string: a JSON number is never money.
AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$"
MAX_AUTHORS = 50
MAX_QUANTITY = 1_000_000


class Body(RequestBody):
    """Unknown fields and text PostgreSQL cannot store are refused (see ``RequestBody``)."""


class MoneyIn(Body):
    amount: Annotated[
        str,
        Field(pattern=AMOUNT_PATTERN, examples=["12.50"], description="Decimal string, two decimals at most"),
    ]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])]

    def to_input(self) -> PriceInput:
        return PriceInput(Decimal(self.amount), self.currency)


class MoneyOut(BaseModel):
    amount: str = Field(examples=["12.50"])
    currency: str = Field(examples=["EUR"])


def _isbn(value: str) -> str:
    try:
        return Isbn.parse(value).value
    except InvalidIsbn as error:
        raise ValueError(str(error)) from error


def _distinct(ids: list[UUID]) -> list[UUID]:
    if len(set(ids)) != len(ids):
        raise ValueError("an author appears more than once")
    return ids


Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE)]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION)]
AuthorIds = Annotated[list[UUID], Field(max_length=MAX_AUTHORS)]


class BookIn(Body):
    isbn: str = Field(examples=["978-0-306-40615-7"], description="ISBN-13, hyphens allowed")
    title: Title
    description: Description = ""
    price: MoneyIn
    stock: Annotated[StrictInt, Field(ge=0, le=MAX_QUANTITY)] = 0
    author_ids: AuthorIds = Field(default_factory=list)
    category_id: UUID | None = None
    publisher_id: UUID | None = None

    @field_validator("isbn")
    @classmethod
    def _check_isbn(cls, value: str) -> str:
        return _isbn(value)

    @field_validator("author_ids")
    @classmethod
    def _check_authors(cls, value: list[UUID]) -> list[UUID]:
        return _distinct(value)


class BookPatch(Body):
    """Only the fields sent change; ``null`` removes the category or the publisher."""

    isbn: str | None = None
    title: Title | None = None
    description: Description | None = None
    price: MoneyIn | None = None
    author_ids: AuthorIds | None = None
    category_id: UUID | None = None
    publisher_id: UUID | None = None

    @field_validator("isbn")
    @classmethod
    def _check_isbn(cls, value: str | None) -> str | None:
        return None if value is None else _isbn(value)

    @field_validator("author_ids")
    @classmethod
    def _check_authors(cls, value: list[UUID] | None) -> list[UUID] | None:
        return None if value is None else _distinct(value)

    @model_validator(mode="after")
    def _only_links_may_be_null(self) -> Self:
        nullable = {"category_id", "publisher_id"}
        for name in self.model_fields_set - nullable:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class RestockIn(Body):
    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)]


class BookOut(BaseModel):
    id: UUID
    isbn: str
    title: str
    description: str
    author_ids: list[UUID]
    author_names: list[str]
    category_id: UUID | None
    category: str | None
    publisher_id: UUID | None
    publisher: str | None
    price: MoneyOut
    stock: int
    in_stock: bool
    average_rating: float | None = Field(description="Mean of the stars, two decimals; null when unrated")
    rating_count: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, book: BookView) -> BookOut:
        return cls(
            id=book.id,
            isbn=book.isbn,
            title=book.title,
            description=book.description,
            author_ids=list(book.author_ids),
            author_names=list(book.author_names),
            category_id=book.category_id,
            category=book.category,
            publisher_id=book.publisher_id,
            publisher=book.publisher,
            price=MoneyOut(amount=f"{book.price.amount:.2f}", currency=book.price.currency),
            stock=book.stock,
            in_stock=book.in_stock,
            average_rating=float(book.average_rating) if book.average_rating is not None else None,
            rating_count=book.rating_count,
            created_at=book.created_at,
            updated_at=book.updated_at,
        )


class RestockOut(BaseModel):
    id: UUID
    stock: int


class PartyIn(Body):
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME)]


class PartyOut(BaseModel):
    id: UUID
    name: str
    created_at: datetime

    @classmethod
    def of(cls, party: PartyView) -> PartyOut:
        return cls(id=party.id, name=party.name, created_at=party.created_at)


def dump(model: BaseModel) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json")
    return data
