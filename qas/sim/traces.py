"""Message traces: CSV ``arrival_s,processing_s``, one row per message, and workload generators.

Generators are seeded so that a benchmark run is reproducible. Arrivals are Poisson processes
(thinned for time-varying rates); processing times are lognormal with a given mean.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HEADER = ("arrival_s", "processing_s")


@dataclass(frozen=True)
class Trace:
    """Arrival times (sorted, seconds from the start) and processing seconds on one worker slot."""

    arrival_s: tuple[float, ...]
    processing_s: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.arrival_s) != len(self.processing_s):
            raise ValueError("arrival_s and processing_s differ in length")
        if any(b < a for a, b in zip(self.arrival_s, self.arrival_s[1:], strict=False)):
            raise ValueError("arrivals must be sorted")
        if any(not math.isfinite(p) or p < 0 for p in self.processing_s):
            raise ValueError("processing times must be finite and >= 0")
        if any(not math.isfinite(a) or a < 0 for a in self.arrival_s[:1]):
            raise ValueError("arrivals must be finite and >= 0")

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def duration_s(self) -> float:
        return self.arrival_s[-1] if self.arrival_s else 0.0

    @classmethod
    def from_rows(cls, rows: list[tuple[float, float]]) -> Trace:
        rows = sorted(rows)
        return cls(tuple(r[0] for r in rows), tuple(r[1] for r in rows))


def read_csv(path: Path) -> Trace:
    """Read a trace; rows need not be sorted. Raises ValueError on a bad header or row."""
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != HEADER:
            raise ValueError(f"{path}: the header must be {','.join(HEADER)}")
        rows: list[tuple[float, float]] = []
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                rows.append((float(row[0]), float(row[1])))
            except (ValueError, IndexError) as exc:
                raise ValueError(f"{path}:{line_no}: expected two numbers, got {row!r}") from exc
    return Trace.from_rows(rows)


def write_csv(trace: Trace, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for arrival, processing in zip(trace.arrival_s, trace.processing_s, strict=True):
            writer.writerow((f"{arrival:.3f}", f"{processing:.3f}"))


Sampler = Callable[[random.Random, float], float]  # (rng, arrival time) -> processing seconds


def lognormal(mean_s: float, sigma: float) -> Sampler:
    """Lognormal processing times with this mean (not the mean of the log), as the producer's."""
    mu = math.log(mean_s) - sigma * sigma / 2

    def sample(rng: random.Random, _t: float) -> float:
        return rng.lognormvariate(mu, sigma)

    return sample


def switch_at(at_s: float, before: Sampler, after: Sampler) -> Sampler:
    def sample(rng: random.Random, t: float) -> float:
        return (before if t < at_s else after)(rng, t)

    return sample


def poisson(
    rate: Callable[[float], float], max_rate: float, duration_s: float, processing: Sampler, seed: int
) -> Trace:
    """A Poisson process with a time-varying rate (messages/s), by thinning a ``max_rate`` process."""
    rng = random.Random(seed)
    arrivals: list[float] = []
    processing_s: list[float] = []
    t = 0.0
    while max_rate > 0:
        t += rng.expovariate(max_rate)
        if t >= duration_s:
            break
        if rng.random() * max_rate <= rate(t):
            arrivals.append(t)
            processing_s.append(processing(rng, t))
    return Trace(tuple(arrivals), tuple(processing_s))


def steady(rate: float, duration_s: float, processing: Sampler, seed: int = 1) -> Trace:
    return poisson(lambda _t: rate, rate, duration_s, processing, seed)


def ramp(start_rate: float, end_rate: float, duration_s: float, processing: Sampler, seed: int = 1) -> Trace:
    def rate(t: float) -> float:
        return start_rate + (end_rate - start_rate) * t / duration_s

    return poisson(rate, max(start_rate, end_rate), duration_s, processing, seed)


def diurnal(
    mean_rate: float,
    amplitude: float,
    duration_s: float,
    processing: Sampler,
    *,
    seed: int = 1,
    day_s: float = 86_400,
) -> Trace:
    """Rate ``mean_rate * (1 + amplitude * sin)``, lowest at the start of the day."""
    if not 0 <= amplitude <= 1:
        raise ValueError("amplitude must be within [0, 1]")

    def rate(t: float) -> float:
        return mean_rate * (1 - amplitude * math.cos(2 * math.pi * t / day_s))

    return poisson(rate, mean_rate * (1 + amplitude), duration_s, processing, seed)


def burst(
    count: int, at_s: float, spread_s: float, duration_s: float, processing: Sampler, *, seed: int = 1
) -> Trace:
    """``count`` messages uniformly within ``[at_s, at_s + spread_s)`` into an idle queue."""
    rng = random.Random(seed)
    arrivals = sorted(at_s + rng.random() * spread_s for _ in range(count))
    trace = Trace(tuple(arrivals), tuple(processing(rng, t) for t in arrivals))
    if duration_s < trace.duration_s:
        raise ValueError("duration_s ends before the burst does")
    return trace
