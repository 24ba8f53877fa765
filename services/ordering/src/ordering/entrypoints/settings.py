"""Ordering's settings: the chassis ones under ``ORDERING_``, plus the saga's deadlines."""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from chassis import ServiceSettings
from contracts.envelope import new_id
from ordering.domain.saga import SagaPolicy


class OrderingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERING_")

    database_url: str = "postgresql://ordering@127.0.0.1:5432/ordering"
    http_port: int = 8002

    # The saga's deadlines on the catalog, counted from when its request left the outbox: the first
    # interval, doubling up to the longest (the resend ladder of ReleaseStock, forever), each spread by
    # up to the jitter; a ReserveStock unanswered this long after it was first sent is given up.
    saga_first_deadline_seconds: float = Field(default=30.0, gt=0)
    saga_max_deadline_seconds: float = Field(default=600.0, gt=0)
    saga_give_up_after_seconds: float = Field(default=900.0, gt=0)
    saga_deadline_jitter: float = Field(default=0.2, ge=0, le=1)
    # The longest the worker sleeps between looks for sagas whose deadline passed (it sleeps less when the
    # nearest deadline is sooner), so a deadline set by another worker meanwhile is at most this late; and
    # how many sagas it takes per transaction.
    deadline_scan_interval_seconds: float = Field(default=5.0, gt=0)
    deadline_scan_batch: int = Field(default=100, ge=1)
    # At most this many orders wait for the catalog's answer; a new one past them is refused 503 with
    # Retry-After (entrypoints/admission.py). Divided by the confirmed rate it bounds placed→confirmed: on
    # two cores ~55 orders/s, so about 4 s, well inside the saga's first deadline.
    max_orders_awaiting_stock: int = Field(default=200, ge=1)

    @model_validator(mode="after")
    def _longest_deadline_not_shorter_than_the_first(self) -> Self:
        if self.saga_max_deadline_seconds < self.saga_first_deadline_seconds:
            raise ValueError("saga_max_deadline_seconds must not be shorter than saga_first_deadline_seconds")
        return self

    def saga_policy(self) -> SagaPolicy:
        return SagaPolicy(
            first_deadline=timedelta(seconds=self.saga_first_deadline_seconds),
            max_deadline=timedelta(seconds=self.saga_max_deadline_seconds),
            give_up_after=timedelta(seconds=self.saga_give_up_after_seconds),
            jitter=self.saga_deadline_jitter,
            new_id=new_id,
        )
