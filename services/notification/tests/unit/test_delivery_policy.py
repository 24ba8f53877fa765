"""The retry policy: a ladder doubling up to hours, with jitter, given up after a horizon; sane limits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from notification.domain.delivery import DeliveryPolicy


def test_backoff_doubles_from_the_base_and_stops_at_the_cap() -> None:
    policy = DeliveryPolicy(backoff_base=timedelta(seconds=1), backoff_max=timedelta(seconds=10))

    pauses = [policy.backoff(n).total_seconds() for n in range(1, 7)]

    assert pauses == [1, 2, 4, 8, 10, 10]


def test_backoff_stays_capped_after_a_huge_number_of_attempts() -> None:
    policy = DeliveryPolicy(backoff_base=timedelta(seconds=1), backoff_max=timedelta(minutes=5))

    assert policy.backoff(10_000) == timedelta(minutes=5)
    assert not DeliveryPolicy(give_up_after=timedelta(days=10_000)).gives_up(10_000)


def test_the_default_ladder_starts_at_30_seconds_reaches_hours_and_gives_up_within_a_day() -> None:
    policy = DeliveryPolicy()
    pauses = [policy.backoff(n) for n in range(1, 40)]
    attempts = next(n for n in range(1, 40) if policy.gives_up(n))
    last_attempt_starts = sum(pauses[: attempts - 1], timedelta(0))

    assert [p.total_seconds() for p in pauses[:4]] == [30, 60, 120, 240]
    assert max(pauses) == timedelta(hours=4)
    assert timedelta(hours=18) < last_attempt_starts <= timedelta(days=1)


def test_jitter_spreads_each_pause_either_way_by_at_most_its_fraction() -> None:
    policy = DeliveryPolicy(backoff_base=timedelta(seconds=100), jitter=0.2)

    assert policy.pause(1, spread=0.0) == timedelta(seconds=80)
    assert policy.pause(1, spread=0.5) == timedelta(seconds=100)
    drawn = {policy.pause(1) for _ in range(50)}
    assert len(drawn) > 1
    assert all(timedelta(seconds=80) <= pause <= timedelta(seconds=120) for pause in drawn)


def test_the_sender_gives_up_once_the_pauses_so_far_pass_the_horizon() -> None:
    policy = DeliveryPolicy(backoff_base=timedelta(seconds=1), give_up_after=timedelta(seconds=3))

    # Pauses 1, 2, 4: the third attempt starts 3 s after the first; a fourth would start at 7 s.
    assert [policy.gives_up(n) for n in (1, 2, 3)] == [False, False, True]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"backoff_base": timedelta(seconds=10), "backoff_max": timedelta(seconds=1)},
        {"give_up_after": timedelta(seconds=-1)},
        {"jitter": 1.0},
        {"sending_lease": timedelta(0)},
    ],
)
def test_a_policy_that_could_not_work_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        DeliveryPolicy(**kwargs)  # type: ignore[arg-type]
