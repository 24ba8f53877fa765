"""Admission of new orders: while the catalog is far behind, a new order is refused (503 with
``Retry-After``) instead of joining a queue that only grows.

The API takes orders faster than the catalog and the saga can answer them, so past saturation an accepted
order used to wait behind every order accepted before it: placed→confirmed grew for as long as the
overload lasted, and once it passed the saga's first deadline every waiting order would be asked for
again, adding work to a system already behind. So at most ``max_orders_awaiting_stock`` orders wait for
the catalog's answer (about that many divided by the confirmed rate in seconds of latency); one more is
told to come back, like a shed request (its ``Retry-After`` grows while the refusals last), and nothing of
it was done, so a retry with its ``Idempotency-Key`` places it once.

The count is read from the database at most every ``REFRESH_SECONDS``, by the request that finds it stale
(within its own transaction: one statement), plus the orders this process admitted since, so a busy API
pays one count a refresh and not one a request; the bound is a replica's, and may be passed by what the
other replicas admit within one refresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chassis import ProblemError, ShedRetryAfter, overloaded
from ordering.application.ports import OrderingUow
from ordering.entrypoints.settings import OrderingSettings

REFRESH_SECONDS = 0.25


def catalog_behind(retry_after_seconds: int, waiting: int) -> ProblemError:
    return overloaded(
        retry_after_seconds,
        f"{waiting} orders are waiting for the catalog's answer, as many as this service takes on at once; "
        "this one was not placed.",
    )


class OrderAdmission:
    def __init__(
        self,
        max_awaiting_stock: int,
        retry_after: ShedRetryAfter,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_awaiting_stock = max_awaiting_stock
        self.retry_after = retry_after
        self._clock = clock
        self._counted_at = -REFRESH_SECONDS  # never: the first request counts
        self._waiting = 0  # as last counted, plus those admitted here since

    @classmethod
    def from_settings(cls, settings: OrderingSettings) -> OrderAdmission:
        return cls(settings.max_orders_awaiting_stock, ShedRetryAfter.from_settings(settings))

    async def check(self, uow: OrderingUow) -> None:
        """Raise the 503 when the catalog has as many orders to answer as this service takes on."""
        now = self._clock()
        if now - self._counted_at >= REFRESH_SECONDS:
            self._counted_at = now  # before the await: concurrent requests use the last count meanwhile
            self._waiting = await uow.reads.orders_awaiting_stock()
        if self._waiting >= self.max_awaiting_stock:
            raise catalog_behind(self.retry_after.next(), self._waiting)

    def admitted(self) -> None:
        """One more order waits for the catalog (it committed)."""
        self._waiting += 1
