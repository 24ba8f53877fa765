"""What rating's routes get from the app: their unit of work."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from chassis import uow_dependency
from rating.adapters.unit_of_work import RatingUnitOfWork

Uow = Annotated[RatingUnitOfWork, Depends(uow_dependency(RatingUnitOfWork))]
