"""A run's timeline by the minute: what the publisher saw, what the fleet did and billed, and which
arrivals missed the SLO. ``qas simulate --timeline FILE`` writes it; ``qas explain`` reads it to say
where a policy's misses and its cost over the clairvoyant bound come from."""

from __future__ import annotations

import csv
import math
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import numpy as np

from qas.sim.results import SimResult
from qas.sim.traces import Trace

MINUTE_S = 60.0


@dataclass(frozen=True)
class Minute:
    minute: int
    arrivals: int  # messages that arrived in this minute
    late: int  # of them, those that missed the SLO (or never finished)
    visible: int  # the last datapoint of the minute, as published
    in_flight: int
    running: int  # in service, as published
    billed: int  # instances billed: booting, in service or draining
    desired: int
    target: float | None
    oldest_age_s: float
    billed_s: float  # instance-seconds billed over the minute's datapoints


def by_minute(result: SimResult, trace: Trace, period_s: float) -> list[Minute]:
    """One row per minute from the first to the last datapoint (or arrival). Needs the run's timeline
    (``record_timeline=True``); the billed seconds of a datapoint are its billed count x the period."""
    points = result.timeline
    if not points:
        raise ValueError("the run has no timeline: simulate with record_timeline=True")
    last_arrival = max(trace.arrival_s) if len(trace) else 0.0
    minutes = int(max(points[-1].t_s, last_arrival) // MINUTE_S) + 1
    edges = np.arange(minutes + 1) * MINUTE_S
    arrivals = np.histogram(np.asarray(trace.arrival_s), bins=edges)[0]
    late = np.histogram(result.late_arrival_s, bins=edges)[0]
    rows: list[Minute] = []
    index = 0
    last = points[0]
    for m in range(minutes):
        billed_s = 0.0
        while index < len(points) and points[index].t_s < (m + 1) * MINUTE_S:
            last = points[index]
            billed_s += last.live * period_s
            index += 1
        rows.append(
            Minute(
                m,
                int(arrivals[m]),
                int(late[m]),
                last.visible,
                last.in_flight,
                last.running,
                last.live,
                last.desired,
                last.target,
                round(last.oldest_age_s, 1),
                billed_s,
            )
        )
    return rows


def write_csv(rows: list[Minute], path: Path) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([f.name for f in fields(Minute)])
        for row in rows:
            writer.writerow(["" if v is None else v for v in astuple(row)])


@dataclass(frozen=True)
class Episode:
    """Consecutive minutes whose arrivals missed the SLO (gaps shorter than ``join_minutes`` joined)."""

    first: int
    last: int
    late: int


def episodes(rows: list[Minute], join_minutes: int) -> list[Episode]:
    """The late episodes, most misses first."""
    found: list[Episode] = []
    for row in rows:
        if row.late == 0:
            continue
        if found and row.minute - found[-1].last <= join_minutes:
            prev = found[-1]
            found[-1] = Episode(prev.first, row.minute, prev.late + row.late)
        else:
            found.append(Episode(row.minute, row.minute, row.late))
    return sorted(found, key=lambda e: (-e.late, e.first))


@dataclass(frozen=True)
class CostSplit:
    """Instance-seconds billed while messages wait or run, and while the queue is empty (published
    counts: what the policy could see)."""

    with_work_s: float
    queue_empty_s: float

    @property
    def total_s(self) -> float:
        return self.with_work_s + self.queue_empty_s


def cost_split(result: SimResult, period_s: float) -> CostSplit:
    with_work = empty = 0.0
    for point in result.timeline:
        billed = point.live * period_s
        if point.visible + point.in_flight > 0:
            with_work += billed
        else:
            empty += billed
    return CostSplit(with_work, empty)


def format_rows(rows: list[Minute]) -> str:
    """A markdown table of minutes (the docs quote these)."""
    head = "| min | arrivals | late | visible | in flight | running | billed | desired | target | oldest s |"
    lines = [head, "|" + "---:|" * 10]
    for r in rows:
        target = "-" if r.target is None or not math.isfinite(r.target) else f"{r.target:.4g}"
        lines.append(
            f"| {r.minute} | {r.arrivals} | {r.late} | {r.visible} | {r.in_flight} | {r.running} "
            f"| {r.billed} | {r.desired} | {target} | {r.oldest_age_s:g} |"
        )
    return "\n".join(lines)
