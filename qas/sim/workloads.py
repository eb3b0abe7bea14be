"""Workload shapes that real traces have and Poisson-lognormal scenarios lack.

Job classes with durations orders of magnitude apart, a burst of the slow class, Pareto tails, jobs
of hours, and days with silent nights. Seeded, like every generator in `qas.sim.traces`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from qas.sim.policies import SimFleet
from qas.sim.traces import Sampler, Trace, burst, lognormal, poisson, steady

HOUR = 3600.0


def mixture(classes: Sequence[tuple[float, Sampler]]) -> Sampler:
    """Each message belongs to one class, drawn with these weights."""
    total = sum(weight for weight, _ in classes)
    if total <= 0 or any(weight < 0 for weight, _ in classes):
        raise ValueError("class weights must be >= 0 with a positive sum")

    def sample(rng: random.Random, t: float) -> float:
        pick: float = rng.random() * total
        for weight, sampler in classes:
            pick -= weight
            if pick < 0:
                return sampler(rng, t)
        return classes[-1][1](rng, t)

    return sample


def pareto(minimum_s: float, alpha: float, cap_s: float) -> Sampler:
    """Pareto (power-law) durations from ``minimum_s``, capped at ``cap_s``; mean ~ alpha/(alpha-1) x min."""
    if minimum_s <= 0 or alpha <= 0 or cap_s < minimum_s:
        raise ValueError("need minimum_s > 0, alpha > 0, cap_s >= minimum_s")

    def sample(rng: random.Random, _t: float) -> float:
        tail: float = (1.0 - rng.random()) ** (1.0 / alpha)
        return min(cap_s, minimum_s / tail)

    return sample


def merge(*traces: Trace) -> Trace:
    """One queue fed by several independent sources."""
    rows = [row for trace in traces for row in zip(trace.arrival_s, trace.processing_s, strict=True)]
    return Trace.from_rows(rows)


def class_burst(
    base: Trace, count: int, at_s: float, spread_s: float, processing: Sampler, *, seed: int
) -> Trace:
    """A steady load plus ``count`` jobs of another class arriving within ``spread_s``."""
    return merge(
        base, burst(count, at_s, spread_s, max(at_s + spread_s, base.duration_s), processing, seed=seed)
    )


def office_hours(rate: float, days: int, processing: Sampler, *, seed: int, open_h: float = 12.0) -> Trace:
    """``rate`` msg/s for ``open_h`` hours a day, nothing the rest of the day (nights and a fleet at 0)."""
    day_s = 24 * HOUR

    def current(t: float) -> float:
        return rate if (t % day_s) < open_h * HOUR else 0.0

    return poisson(current, rate, days * day_s, processing, seed)


def mixed_classes(scale: float) -> Trace:
    """90% jobs of 20 s, 10% of 10 minutes, 0.5 msg/s for 6 h: the mean of completions shifts with the mix."""
    jobs = mixture([(0.9, lognormal(20, 0.5)), (0.1, lognormal(600, 0.5))])
    return steady(0.5, 6 * HOUR * scale, jobs, seed=21)


def slow_burst(scale: float) -> Trace:
    """0.5 msg/s of 20-s jobs, and 300 jobs of 15 minutes within one minute at 2 h."""
    base = steady(0.5, 6 * HOUR * scale, lognormal(20, 0.5), seed=22)
    return class_burst(base, 300, 2 * HOUR * scale, 60, lognormal(900, 0.5), seed=23)


def pareto_tail(scale: float) -> Trace:
    """0.3 msg/s, Pareto alpha 1.5 from 10 s (mean ~30 s; one job in 1,000 over 16 min), capped at 2 h."""
    return steady(0.3, 6 * HOUR * scale, pareto(10, 1.5, 2 * HOUR), seed=24)


def hour_jobs(scale: float) -> Trace:
    """20 jobs an hour of 1 h on average (lognormal sigma 0.8, at most 5 h) for 12 h: completions are
    rare and late. The cap keeps every job finishable within the simulator's 6-h drain."""
    jobs = lognormal(HOUR, 0.8)
    return steady(20 / HOUR, 12 * HOUR * scale, lambda rng, t: min(5 * HOUR, jobs(rng, t)), seed=25)


def silent_nights(scale: float) -> Trace:
    """Two days: 12 busy hours at 1 msg/s of 30-s jobs, then 12 silent hours."""
    days = max(1, math.ceil(2 * scale))
    return office_hours(1.0, days, lognormal(30, 0.6), seed=26)


# The bench's `shapes` group: (name, description, fleet, generator).
SHAPE_SCENARIOS: tuple[tuple[str, str, SimFleet, object], ...] = (
    (
        "mixed-classes",
        "6 h at 0.5 msg/s: 90% jobs of 20 s, 10% of 10 min; SLO 30 min, 2 slots",
        SimFleet(slo_s=1800, max_capacity=60, boot_s=90, concurrency=2),
        mixed_classes,
    ),
    (
        "slow-burst",
        "0.5 msg/s of 20-s jobs for 6 h; 300 jobs of 15 min within one minute at 2 h; SLO 1 h",
        SimFleet(slo_s=3600, max_capacity=200, boot_s=90, concurrency=1),
        slow_burst,
    ),
    (
        "pareto-tail",
        "6 h at 0.3 msg/s, Pareto alpha 1.5 from 10 s capped at 2 h; SLO 20 min",
        SimFleet(slo_s=1200, max_capacity=60, boot_s=90, concurrency=1),
        pareto_tail,
    ),
    (
        "hour-jobs",
        "12 h of 20 jobs an hour, 1 h on average (lognormal sigma 0.8, at most 5 h); SLO 4 h; boot 180 s",
        SimFleet(slo_s=4 * HOUR, max_capacity=100, boot_s=180, concurrency=1),
        hour_jobs,
    ),
    (
        "silent-nights",
        "two days of 12 busy hours at 1 msg/s (30-s jobs) and 12 silent ones; SLO 10 min, 4 slots",
        SimFleet(slo_s=600, max_capacity=40, boot_s=90, concurrency=4),
        silent_nights,
    ),
)
