"""Ordering's refusals as problem details: what the domain and the use cases raise, said in HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from chassis import conflict, forbidden, not_found, validation_problem
from ordering.application.errors import OrderNotFound
from ordering.domain.errors import InvalidOrder, NotPermitted, TransitionNotAllowed


@contextmanager
def as_problems() -> Iterator[None]:
    """Turn ordering's errors raised in the block into 403, 404, 409 or 422 problem details."""
    try:
        yield
    except OrderNotFound as missing:
        raise not_found("order", missing.order_id) from missing
    except InvalidOrder as invalid:
        errors = [
            {"location": "body", "field": field, "message": message, "type": "value_error"}
            for field, message in invalid.errors.items()
        ]
        raise validation_problem(errors) from invalid
    except TransitionNotAllowed as refused:
        raise conflict(str(refused), title="Order State Conflict", order_status=refused.state) from refused
    except NotPermitted as denied:
        raise forbidden(str(denied)) from denied
