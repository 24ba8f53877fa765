"""The relay's retry delay: exponential from the base, capped, and never negative."""

from __future__ import annotations

import pytest

from chassis.outbox import RelayOptions, retry_delay


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [(0, 0.0), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 256.0), (10, 300.0), (11, 300.0)],
)
def test_delay_doubles_from_the_base_up_to_the_cap(attempts: int, expected: float) -> None:
    assert retry_delay(attempts, base=1.0, maximum=300.0) == expected


def test_huge_attempt_counts_stay_at_the_cap() -> None:
    assert retry_delay(10_000, base=0.5, maximum=60.0) == 60.0


def test_fractional_base() -> None:
    assert [retry_delay(n, base=0.25, maximum=10.0) for n in range(1, 7)] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]


def test_the_default_ladder_gives_up_after_about_two_hours() -> None:
    options = RelayOptions()
    assert options.max_attempts is not None
    waited = sum(
        retry_delay(n, base=options.retry_base, maximum=options.retry_max)
        for n in range(1, options.max_attempts)
    )
    assert 1.5 * 3600 < waited < 2.5 * 3600


@pytest.mark.parametrize(
    "bad",
    [
        {"batch_size": 0},
        {"max_in_flight": 0},
        {"retry_base": 0.0},
        {"retry_base": 10.0, "retry_max": 5.0},
        {"max_attempts": 0},
        {"max_body_bytes": 0},
    ],
)
def test_options_refuse_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        RelayOptions(**bad)  # type: ignore[arg-type]
