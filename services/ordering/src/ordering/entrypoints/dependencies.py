"""What ordering's routes get from the app: a unit of work, or a factory of them for a route that retries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from chassis import new_uow, uow_dependency
from ordering.adapters.unit_of_work import OrderingUnitOfWork

Uow = Annotated[OrderingUnitOfWork, Depends(uow_dependency(OrderingUnitOfWork))]
UowFactory = Callable[[], OrderingUnitOfWork]


async def _uow_factory(request: Request) -> UowFactory:
    return lambda: new_uow(request, OrderingUnitOfWork)


Uows = Annotated[UowFactory, Depends(_uow_factory)]
