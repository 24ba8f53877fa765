"""Percentiles and latency summaries, in milliseconds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), interpolated between ranks as NumPy does by default; NaN if empty."""
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Latency:
    count: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, values_ms: Sequence[float]) -> Latency:
        return cls(
            count=len(values_ms),
            p50=percentile(values_ms, 50),
            p95=percentile(values_ms, 95),
            p99=percentile(values_ms, 99),
            max=max(values_ms, default=math.nan),
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Latency:
        return cls(**{key: _number(data[key]) for key in ("p50", "p95", "p99", "max")}, count=data["count"])

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            **{key: _json_number(getattr(self, key)) for key in ("p50", "p95", "p99", "max")},
        }


def _json_number(value: float) -> float | None:
    """JSON has no NaN: an empty sample is null."""
    return None if math.isnan(value) else round(value, 3)


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)
