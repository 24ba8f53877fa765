"""What an app's routes would run in a worker thread: FastAPI hands a plain-function endpoint or dependency to
its thread pool on every request, a hand-off that costs more than such a function's own work."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant, _is_async_gen_callable, _is_coroutine_callable
from fastapi.routing import APIRoute, iter_route_contexts


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for child in dependant.dependencies:
        yield child
        yield from _dependants(child)


def threaded_calls(app: FastAPI) -> set[str]:
    """``METHODS path: name`` of each endpoint and dependency of ``app``'s routes that is a plain function.

    Classified by FastAPI's own (private) tests, the ones ``solve_dependencies`` and the route runner use,
    so that partials, wrapped functions and callable instances count as FastAPI counts them.
    """
    found: set[str] = set()
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        where = f"{','.join(sorted(route.methods or ()))} {route.path_format}"
        calls = [route.original_route.endpoint, *(d.call for d in _dependants(route.dependant) if d.call)]
        found.update(
            f"{where}: {getattr(call, '__qualname__', repr(call))}"
            for call in calls
            if not (_is_coroutine_callable(call) or _is_async_gen_callable(call))
        )
    return found
