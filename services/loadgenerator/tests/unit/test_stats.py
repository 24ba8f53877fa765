import math

import pytest

from loadgenerator.stats import Latency, percentile


def test_percentile_interpolates_between_ranks_like_numpy() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 0) == 10.0
    assert percentile(values, 100) == 40.0
    assert percentile(values, 50) == 25.0
    assert percentile(values, 99) == pytest.approx(39.7)


def test_percentile_ignores_input_order_and_handles_one_value() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([7.0], 99) == 7.0


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 50))


def test_percentile_rejects_a_fraction_outside_0_100() -> None:
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_latency_summary_and_its_json_round_trip() -> None:
    latency = Latency.of([float(v) for v in range(1, 101)])
    assert (latency.count, latency.p50, latency.max) == (100, 50.5, 100.0)
    assert latency.p99 == pytest.approx(99.01)
    assert Latency.from_json(latency.to_json()) == Latency.from_json(latency.to_json())
    assert Latency.from_json(latency.to_json()).p95 == pytest.approx(latency.p95, abs=1e-3)


def test_an_empty_latency_is_null_in_json_and_nan_back() -> None:
    data = Latency.of([]).to_json()
    assert data == {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}
    assert math.isnan(Latency.from_json(data).p99)
