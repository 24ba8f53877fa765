"""What notification's routes get from the app: their unit of work."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from chassis import uow_dependency
from notification.adapters.unit_of_work import NotificationUnitOfWork

Uow = Annotated[NotificationUnitOfWork, Depends(uow_dependency(NotificationUnitOfWork))]
