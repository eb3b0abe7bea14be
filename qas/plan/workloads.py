"""The workload to plan for, as a trace: a CSV file, or a steady load described by three numbers."""

from __future__ import annotations

import math
from pathlib import Path

from qas.sim import traces
from qas.sim.traces import Trace

SYNTHETIC_HOURS = 6.0  # as the benchmark's steady scenarios: long enough that the cold start weighs little
SYNTHETIC_SEED = 1
# The heaviest lognormal tail planned for: at sigma 3 the 99th percentile is already about 17 times
# the mean (the benchmark's heavy-tail scenario has 1.5).
MAX_SIGMA = 3.0


def from_csv(path: Path) -> Trace:
    return traces.read_csv(path)


def steady(rate_per_minute: float, duration_s: float, sigma: float, hours: float = SYNTHETIC_HOURS) -> Trace:
    """Poisson arrivals at ``rate_per_minute``; lognormal processing times of mean ``duration_s``
    (``sigma`` 0: every job takes exactly ``duration_s``)."""
    # Negated comparisons: NaN fails every one of them.
    if not 0 < rate_per_minute < math.inf:
        raise ValueError(f"--rate-per-minute must be a finite number > 0, got {rate_per_minute!r}")
    if not 0 < duration_s <= traces.MAX_PROCESSING_S:
        raise ValueError(
            f"--duration-seconds must be > 0 and <= {traces.MAX_PROCESSING_S:g}, got {duration_s!r}"
        )
    if not 0 <= sigma <= MAX_SIGMA:
        raise ValueError(f"--duration-sigma must be within 0..{MAX_SIGMA:g}, got {sigma!r}")
    if not 0 < hours <= traces.MAX_SPAN_DAYS * 24:
        raise ValueError(f"--hours must be > 0 and <= {traces.MAX_SPAN_DAYS * 24}, got {hours!r}")
    expected = rate_per_minute * 60 * hours
    if expected > traces.MAX_MESSAGES:
        raise ValueError(
            f"--rate-per-minute {rate_per_minute:g} for --hours {hours:g} is about {expected:,.0f} messages, "
            f"more than the simulator's {traces.MAX_MESSAGES:,}: plan a shorter --hours"
        )
    return traces.steady(
        rate_per_minute / 60.0, hours * 3600.0, traces.lognormal(duration_s, sigma), seed=SYNTHETIC_SEED
    )
