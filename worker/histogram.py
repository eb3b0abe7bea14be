"""Durations aggregated in memory as a histogram, for PutMetricData `Values`/`Counts`.

CloudWatch computes percentiles from values and counts, and accepts at most 150 distinct values
per datum. Values are kept at 3 significant digits (bounded memory whatever the throughput) and
coarsened, one digit at a time, only when a flush would otherwise exceed the limit.
"""

from __future__ import annotations

import math
from collections import Counter

MAX_DISTINCT_VALUES = 150
_RECORD_DIGITS = 3


def round_significant(value: float, digits: int) -> float:
    """`value` rounded to `digits` significant digits (0 stays 0; negatives clamp to 0)."""
    if value <= 0 or not math.isfinite(value):
        return 0.0
    exponent = math.floor(math.log10(value))
    return round(value, digits - 1 - exponent)


def bucket(counts: Counter[float], max_distinct: int = MAX_DISTINCT_VALUES) -> dict[float, int]:
    """Merge values into at most `max_distinct` distinct ones, keeping every count.

    Tries 3, 2, then 1 significant digit; at 1 digit a span of 16 decades fits in 150 values, so
    the last resort (merging neighbours) only matters for pathological inputs.
    """
    merged: Counter[float] = Counter(counts)
    for digits in range(_RECORD_DIGITS, 0, -1):
        merged = Counter()
        for value, count in counts.items():
            merged[round_significant(value, digits)] += count
        if len(merged) <= max_distinct:
            return dict(merged)
    # Pathological spread: fold the smallest values into their upper neighbour until it fits.
    ordered = sorted(merged.items())
    while len(ordered) > max_distinct:
        (_, low_count), (high_value, high_count) = ordered[0], ordered[1]
        ordered = [(high_value, low_count + high_count), *ordered[2:]]
    return dict(ordered)


class Histogram:
    """Not thread-safe: the caller (metrics.Recorder) holds the lock."""

    def __init__(self) -> None:
        self._counts: Counter[float] = Counter()

    def add(self, value: float) -> None:
        self._counts[round_significant(value, _RECORD_DIGITS)] += 1

    def __len__(self) -> int:
        return sum(self._counts.values())

    def values_and_counts(self) -> tuple[list[float], list[float]]:
        """Parallel lists for PutMetricData, at most MAX_DISTINCT_VALUES long."""
        items = sorted(bucket(self._counts).items())
        return [value for value, _ in items], [float(count) for _, count in items]

    def merge(self, other: Histogram) -> None:
        self._counts.update(other._counts)
