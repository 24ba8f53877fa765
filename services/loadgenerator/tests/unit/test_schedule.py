import pytest

from loadgenerator.schedule import RateStep, parse_rates, rising_steps


def test_a_step_spaces_its_orders_evenly() -> None:
    step = RateStep(rate=4, seconds=2)
    assert step.count == 8
    assert step.offsets() == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]


def test_a_fractional_rate_rounds_the_count_and_sends_at_least_one() -> None:
    assert RateStep(rate=2.5, seconds=3).count == 8  # 7.5 rounds to even
    assert RateStep(rate=0.1, seconds=1).count == 1


@pytest.mark.parametrize(("rate", "seconds"), [(0, 10), (-1, 10), (5, 0)])
def test_a_step_needs_a_positive_rate_and_duration(rate: float, seconds: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        RateStep(rate, seconds)


def test_rates_parse_from_a_comma_separated_list() -> None:
    assert parse_rates("5,10, 20,40") == [5.0, 10.0, 20.0, 40.0]
    assert parse_rates("2.5,") == [2.5]


@pytest.mark.parametrize("text", ["", "5,x", "5,-1", "0"])
def test_bad_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="rates"):
        parse_rates(text)


def test_rising_steps_hold_each_rate_for_the_same_time() -> None:
    assert rising_steps([5, 10], 30) == [RateStep(5, 30), RateStep(10, 30)]
