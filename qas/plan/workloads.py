"""The workload to plan for, as a trace: a CSV file, or a steady load described by three numbers."""

from __future__ import annotations

from pathlib import Path

from qas.sim import traces
from qas.sim.traces import Trace

SYNTHETIC_HOURS = 6.0  # as the benchmark's steady scenarios: long enough that the cold start weighs little
SYNTHETIC_SEED = 1


def from_csv(path: Path) -> Trace:
    return traces.read_csv(path)


def steady(rate_per_minute: float, duration_s: float, sigma: float, hours: float = SYNTHETIC_HOURS) -> Trace:
    """Poisson arrivals at ``rate_per_minute``; lognormal processing times of mean ``duration_s``
    (``sigma`` 0: every job takes exactly ``duration_s``)."""
    if rate_per_minute <= 0:
        raise ValueError("--rate-per-minute must be > 0")
    if duration_s <= 0:
        raise ValueError("--duration-seconds must be > 0")
    if sigma < 0:
        raise ValueError("--duration-sigma must be >= 0")
    if hours <= 0:
        raise ValueError("--hours must be > 0")
    return traces.steady(
        rate_per_minute / 60.0, hours * 3600.0, traces.lognormal(duration_s, sigma), seed=SYNTHETIC_SEED
    )
