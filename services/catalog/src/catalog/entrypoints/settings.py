"""Catalog's settings: the chassis knobs under the ``CATALOG_`` prefix, and the shop's currency."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from chassis import ServiceSettings


class CatalogSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOG_")

    database_url: str = "postgresql://catalog@127.0.0.1:5432/catalog"
    http_port: int = 8001
    # The catalog sells in one currency: an order's total adds its lines' prices.
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
