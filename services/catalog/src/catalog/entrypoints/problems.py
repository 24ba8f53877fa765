"""The catalog's refusals as problem details: what the domain and the use cases raise, said in HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from catalog.application.errors import Conflict, NotFound, UnknownReference
from catalog.domain.errors import DomainError
from chassis import conflict, invalid_field, not_found

# Domain fields that sit inside the request's price object.
_PRICE_FIELDS = frozenset({"amount", "currency"})


@contextmanager
def as_problems() -> Iterator[None]:
    """Turn catalog errors raised in the block into 404, 409 or 422 problem details."""
    try:
        yield
    except NotFound as error:
        raise not_found(error.kind, error.id) from error
    except UnknownReference as error:
        raise invalid_field(error.field, str(error), "unknown_reference") from error
    except Conflict as error:
        raise conflict(str(error), field=error.field) from error
    except DomainError as error:
        field = f"price.{error.field}" if error.field in _PRICE_FIELDS else error.field
        raise invalid_field(field, str(error)) from error
