"""What one simulation measured: the summary ``qas simulate`` prints and the timeline charts draw."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from qas.sim.warm_pool import WarmPoolUsage
from queue_autoscaler.scaling.target import DurationStats


@dataclass(frozen=True)
class TimelinePoint:
    t_s: float
    visible: int
    in_flight: int
    running: int
    desired: int
    target: float | None
    oldest_age_s: float = 0.0  # as the publisher saw it
    live: int = 0  # instances billed at that moment: booting, in service or draining


@dataclass
class SimResult:
    messages: int
    completed: int
    lost: int
    slo_attainment: float
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    instance_seconds: float
    work_seconds: float
    cost_ratio: float
    scale_actions: int
    peak_capacity: int
    redeliveries: int
    simulated_s: float
    spot_interruptions: int = 0
    launch_failures: int = 0
    missed_samples: int = 0
    timeline: list[TimelinePoint] = field(default_factory=list, repr=False)
    warm_pool: WarmPoolUsage | None = None  # only with a warm pool (qas/sim/warm_pool.py)
    # Arrival times of the messages that missed the SLO or never finished (qas/sim/timeline.py).
    late_arrival_s: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    queue_attainment: tuple[float, ...] | None = None  # per queue, with a queue column (multi_queue.py)

    def summary(self) -> dict[str, float | int | dict[str, float | int] | list[float] | None]:
        """The measures, as ``qas simulate --json`` prints them (``warm_pool`` only with one,
        ``slo_attainment_per_queue`` only with a queue column)."""
        measures: dict[str, float | int | dict[str, float | int] | list[float] | None] = {
            "messages": self.messages,
            "completed": self.completed,
            "lost": self.lost,
            "slo_attainment": round(self.slo_attainment, 6),
            "latency_p50_s": round(self.latency_p50_s, 3),
            "latency_p95_s": round(self.latency_p95_s, 3),
            "latency_p99_s": round(self.latency_p99_s, 3),
            "instance_seconds": round(self.instance_seconds, 3),
            "work_seconds": round(self.work_seconds, 3),
            # No work at all (an empty trace) has no ratio; JSON has no Infinity.
            "cost_ratio": round(self.cost_ratio, 4) if math.isfinite(self.cost_ratio) else None,
            "scale_actions": self.scale_actions,
            "peak_capacity": self.peak_capacity,
            "redeliveries": self.redeliveries,
            "simulated_s": round(self.simulated_s, 3),
            "spot_interruptions": self.spot_interruptions,
            "launch_failures": self.launch_failures,
            "missed_samples": self.missed_samples,
        }
        if self.warm_pool is not None:
            measures["warm_pool"] = self.warm_pool.summary()
        if self.queue_attainment is not None:
            measures["slo_attainment_per_queue"] = [round(a, 6) for a in self.queue_attainment]
        return measures


def duration_stats(durations: list[float], percentile: float) -> DurationStats | None:
    if not durations:
        return None
    values = np.asarray(durations)
    return DurationStats(
        samples=len(durations),
        mean_s=float(values.mean()),
        tail_s=float(np.percentile(values, percentile)),
        max_s=float(values.max()),
    )
