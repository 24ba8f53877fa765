"""What an app's routes would run in a worker thread: FastAPI hands a plain-function endpoint or dependency to
its thread pool on every request, a hand-off that costs more than such a function's own work."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts


def _is_coroutine(call: Callable[..., Any]) -> bool:
    # A dependency may be a class instance (HTTPBearer, RoleRequirement): its __call__ is what runs.
    runs = call if inspect.isfunction(call) or inspect.ismethod(call) else type(call).__call__
    return inspect.iscoroutinefunction(runs) or inspect.isasyncgenfunction(runs)


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for child in dependant.dependencies:
        yield child
        yield from _dependants(child)


def threaded_calls(app: FastAPI) -> set[str]:
    """``METHODS path: name`` of each endpoint and dependency of ``app``'s routes that is a plain function."""
    found: set[str] = set()
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        where = f"{','.join(sorted(route.methods or ()))} {route.path_format}"
        calls = [route.original_route.endpoint, *(d.call for d in _dependants(route.dependant) if d.call)]
        found.update(f"{where}: {getattr(c, '__qualname__', repr(c))}" for c in calls if not _is_coroutine(c))
    return found
