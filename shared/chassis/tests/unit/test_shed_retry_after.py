"""The Retry-After of a shed request: the configured pause when shedding begins, a second more for every
second it lasts, never past the cap, and the configured pause again once the shedding is over."""

from __future__ import annotations

import pytest

from chassis.http.shedding import ShedRetryAfter
from chassis.settings import ServiceSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def shedding(base: int = 1, cap: int = 8) -> tuple[ShedRetryAfter, Clock]:
    clock = Clock()
    return ShedRetryAfter(base, cap, clock), clock


def told_every(step: float, times: int, retry_after: ShedRetryAfter, clock: Clock) -> list[int]:
    """What ``times`` requests shed ``step`` seconds apart are told."""
    told = []
    for _ in range(times):
        told.append(retry_after.next())
        clock.now += step
    return told


def test_shedding_that_begins_asks_for_the_configured_pause() -> None:
    retry_after, _ = shedding(base=2)
    assert [retry_after.next() for _ in range(5)] == [2, 2, 2, 2, 2]


def test_the_pause_grows_by_a_second_for_every_second_the_shedding_lasts_up_to_the_cap() -> None:
    retry_after, clock = shedding(base=1, cap=4)
    assert told_every(0.5, 14, retry_after, clock) == [1, 1, 2, 2, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4]


def test_shedding_is_over_once_none_was_shed_for_as_long_as_the_last_was_told_to_wait() -> None:
    retry_after, clock = shedding(base=1, cap=20)
    assert told_every(1, 5, retry_after, clock) == [1, 2, 3, 4, 5]
    clock.now += 4  # the last one shed, 1 s ago, was told 5 s: it is just coming back
    assert retry_after.next() == 10, "still the same shedding, 9 s old"
    clock.now += 10.01
    assert retry_after.next() == 1


def test_a_pause_of_zero_seconds_grows_too_and_shedding_ends_after_a_quiet_second() -> None:
    retry_after, clock = shedding(base=0, cap=3)
    assert told_every(0.5, 8, retry_after, clock) == [0, 0, 1, 1, 2, 2, 3, 3]
    retry_after, clock = shedding(base=0, cap=3)
    retry_after.next()
    clock.now += 0.9
    assert retry_after.next() == 0
    clock.now += 0.2
    assert retry_after.next() == 1, "0.2 s after the last shed: the same shedding, 1.1 s old"
    clock.now += 1.01
    assert retry_after.next() == 0, "1.01 s quiet after being told 1 s: a new shedding, which asks for 0"


@pytest.mark.parametrize(("base", "cap"), [(-1, 3), (3, 2)])
def test_a_negative_pause_or_a_cap_below_it_is_refused(base: int, cap: int) -> None:
    with pytest.raises(ValueError, match="Retry-After"):
        ShedRetryAfter(base, cap)


def test_the_settings_refuse_a_max_below_the_pause() -> None:
    with pytest.raises(ValueError, match="http_shed_retry_after_max_seconds"):
        ServiceSettings(http_shed_retry_after_seconds=5, http_shed_retry_after_max_seconds=4)
