"""When admission counts the orders awaiting stock: the first request, then at most once a refresh (what
this process admitted meanwhile added), and a refusal past the bound with the growing Retry-After."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from chassis import ProblemError, ShedRetryAfter
from ordering.entrypoints.admission import REFRESH_SECONDS, OrderAdmission


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingReads:
    def __init__(self, waiting: int) -> None:
        self.waiting = waiting
        self.counts = 0

    async def orders_awaiting_stock(self) -> int:
        self.counts += 1
        return self.waiting


def uow(reads: CountingReads) -> Any:
    return SimpleNamespace(reads=reads)


def admission(bound: int) -> tuple[OrderAdmission, Clock]:
    clock = Clock()
    return OrderAdmission(bound, ShedRetryAfter(1, 8, clock), clock), clock


async def test_the_count_is_read_once_a_refresh_and_the_admitted_ones_added_meanwhile() -> None:
    gate, clock = admission(bound=3)
    reads = CountingReads(waiting=1)
    await gate.check(uow(reads))
    gate.admitted()
    await gate.check(uow(reads))
    gate.admitted()
    with pytest.raises(ProblemError) as refused:
        await gate.check(uow(reads))
    assert reads.counts == 1, "one count within a refresh"
    assert refused.value.status == 503
    assert refused.value.headers["Retry-After"] == "1"

    reads.waiting = 0  # the catalog answered them all
    clock.now += REFRESH_SECONDS
    await gate.check(uow(reads))
    assert reads.counts == 2


async def test_refusals_that_last_ask_for_longer_pauses() -> None:
    gate, clock = admission(bound=1)
    reads = CountingReads(waiting=5)
    told = []
    for _ in range(3):
        with pytest.raises(ProblemError) as refused:
            await gate.check(uow(reads))
        told.append(refused.value.headers["Retry-After"])
        clock.now += 1
    assert told == ["1", "2", "3"]
