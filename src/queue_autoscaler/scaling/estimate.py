"""How long one message takes, from what the fleet has finished and what it is still running.

Pure: the target tuner Lambda and the simulator call these same functions.

Completions alone mislead on real workloads (measured on the traces in ``../shared/traces``):

* **Too few completions.** Jobs of an hour finish a few times per 10-minute lookback; below
  ``MIN_SAMPLES`` the tuner kept the initial target for hours. :func:`widen_lookback` doubles the
  window (10, 20, 40, 80 minutes, up to the maximum) until it holds enough completions, so short jobs
  keep the fast 10-minute reaction and long jobs get a window that can see them.
* **Survivor bias.** Within any window short jobs finish and long ones are still running, so the
  mean of completions is far below the mean of the work (grid trace ``d3``: 30 s measured while
  1-hour jobs held the fleet; the target rose to 153 and 1,000 jobs waited 20 hours).
  :func:`count_running_jobs` adds what the running jobs have already taken: the "total time on test"
  estimator of the mean for censored durations, (sum of completed + sum of elapsed of running) /
  completions. It can only raise the estimate, and in steady state the running share is small.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from queue_autoscaler.scaling.target import DurationStats

WIDEN_FACTOR = 2


@dataclass(frozen=True)
class RunningJobs:
    """Jobs in progress now: how many and the seconds they have already run (summed)."""

    count: int
    elapsed_total_s: float

    def __post_init__(self) -> None:
        if self.count < 0 or self.elapsed_total_s < 0:
            raise ValueError(f"running jobs cannot be negative: {self}")


NO_RUNNING_JOBS = RunningJobs(0, 0.0)


def widen_lookback(
    stats_for: Callable[[int], DurationStats | None],
    first_minutes: int,
    max_minutes: int,
    min_samples: int,
) -> tuple[int, DurationStats | None]:
    """The shortest window of first_minutes x 2^k (capped at max_minutes) with min_samples completions.

    Returns the window used and its statistics (those of the widest window tried when none has
    enough: the caller's rails then keep the target).
    """
    if first_minutes < 1 or max_minutes < first_minutes:
        raise ValueError("need 1 <= first_minutes <= max_minutes")
    minutes = first_minutes
    stats = stats_for(minutes)
    while (stats is None or stats.samples < min_samples) and minutes < max_minutes:
        minutes = min(max_minutes, minutes * WIDEN_FACTOR)
        stats = stats_for(minutes)
    return minutes, stats


def count_running_jobs(stats: DurationStats | None, running: RunningJobs) -> DurationStats | None:
    """Correct completed durations for the jobs still running (survivor bias); never lowers the mean."""
    if stats is None or stats.samples <= 0 or running.count == 0:
        return stats
    corrected = (stats.mean_s * stats.samples + running.elapsed_total_s) / stats.samples
    if corrected <= stats.mean_s:
        return stats
    tail = max(stats.tail_s or 0.0, corrected)
    return DurationStats(samples=stats.samples, mean_s=corrected, tail_s=tail, max_s=stats.max_s)
