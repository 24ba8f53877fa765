"""The retry policy: exponential backoff, capped, and sane limits."""

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


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"backoff_base": timedelta(seconds=10), "backoff_max": timedelta(seconds=1)},
        {"sending_lease": timedelta(0)},
    ],
)
def test_a_policy_that_could_not_work_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        DeliveryPolicy(**kwargs)  # type: ignore[arg-type]
