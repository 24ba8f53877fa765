"""Ordering's settings: the chassis ones under ``ORDERING_``, plus the saga's timeouts."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from chassis.settings import ServiceSettings
from ordering.domain.saga import SagaPolicy


class OrderingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERING_")

    database_url: str = "postgresql://ordering@127.0.0.1:5432/ordering"
    http_port: int = 8002

    # How long the catalog gets to answer ReserveStock before it is sent again, and how many sends in all.
    reserve_timeout_seconds: float = Field(default=30.0, gt=0)
    reserve_max_attempts: int = Field(default=3, ge=1)
    # How often the worker looks for sagas whose deadline passed, and how many it takes per transaction.
    deadline_scan_interval_seconds: float = Field(default=1.0, gt=0)
    deadline_scan_batch: int = Field(default=100, ge=1)

    def saga_policy(self) -> SagaPolicy:
        return SagaPolicy(
            reserve_timeout=timedelta(seconds=self.reserve_timeout_seconds),
            max_attempts=self.reserve_max_attempts,
        )
