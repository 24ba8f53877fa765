"""What the catalog's routes get from the app: their unit of work and the catalog's settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from catalog.adapters.unit_of_work import CatalogUnitOfWork
from catalog.entrypoints.settings import CatalogSettings
from chassis import uow_dependency

Uow = Annotated[CatalogUnitOfWork, Depends(uow_dependency(CatalogUnitOfWork))]


async def catalog_settings(request: Request) -> CatalogSettings:
    settings = request.app.state.settings
    if not isinstance(settings, CatalogSettings):
        raise RuntimeError("the app was not built with CatalogSettings")
    return settings


Settings = Annotated[CatalogSettings, Depends(catalog_settings)]
