"""The load's idle gaps and bursts, and the hold before scale-in they call for. Pure: plain numbers in,
plain numbers out (docs/deploy.md#planning-capacity, "the idle hold").

A busy period is the union of ``[arrival, arrival + processing]`` over the messages (each served as it
arrives: the least the fleet can be busy); an idle gap is the time between two busy periods. With a
hold of ``h`` seconds before scale-in (``KeepWarmMinutes`` or ``ShutdownAfterMinutes``), counted in
instance-seconds, so that the price cancels out of the choice:

* a gap no longer than ``h`` is bridged: one instance idles through it (the gap's seconds);
* a longer gap pays a cold start: ``h`` idled before the fleet goes, the new instance's boot billed,
  and the messages that arrive within the cold start (one alarm period + boot) of the next busy
  period late when that wait plus their processing passes the SLO.

The hold chosen is the cheapest whose late messages fit the goal's budget; when none does, the one
with the fewest late messages, then the cheapest. Ties go to the template's default, then the shorter.
The model leaves out queueing behind other messages and the scaling policy's own scale-in: the
planner simulates the derived hold against the default and keeps it only when the simulation agrees.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate


@dataclass(frozen=True)
class Gap:
    seconds: float  # idle, between the end of one busy period and the first arrival of the next
    late_if_cold: int  # messages a cold start at the end of the gap makes miss the SLO


@dataclass(frozen=True)
class Gaps:
    gaps: tuple[Gap, ...]
    first_late: int  # the trace's own start is a cold start whatever the hold
    starts: tuple[float, ...]  # when each busy period begins (the first included)


def _late(
    arrivals: Sequence[float], processing: Sequence[float], first: int, ready_s: float, slo_s: float
) -> int:
    """Messages from ``first`` on that arrive before ``ready_s`` and, waiting for it, pass the SLO
    (those longer than the SLO on their own miss it whatever the hold: not counted)."""
    late = 0
    j = first
    while j < len(arrivals) and arrivals[j] < ready_s:
        late += processing[j] <= slo_s < (ready_s - arrivals[j]) + processing[j]
        j += 1
    return late


def idle_gaps(
    arrivals: Sequence[float], processing: Sequence[float], slo_s: float, cold_start_s: float
) -> Gaps:
    """The idle gaps of a trace (arrivals sorted, as traces are)."""
    if len(arrivals) != len(processing):
        raise ValueError("arrivals and processing times differ in length")
    if not arrivals:
        return Gaps((), 0, ())
    gaps: list[Gap] = []
    starts = [arrivals[0]]
    first_late = _late(arrivals, processing, 0, arrivals[0] + cold_start_s, slo_s)
    busy_until = arrivals[0] + processing[0]
    for i in range(1, len(arrivals)):
        arrival = arrivals[i]
        if arrival > busy_until:
            late = _late(arrivals, processing, i, arrival + cold_start_s, slo_s)
            gaps.append(Gap(arrival - busy_until, late))
            starts.append(arrival)
        busy_until = max(busy_until, arrival + processing[i])
    return Gaps(tuple(gaps), first_late, tuple(starts))


@dataclass(frozen=True)
class HoldCost:
    minutes: int
    instance_seconds: float  # idle and booting, over the gaps
    late: int  # messages the cold starts make late
    bridged: int  # gaps the hold bridges


def hold_costs(gaps: Sequence[Gap], boot_s: float, minutes: Sequence[int]) -> list[HoldCost]:
    """What each hold costs over the gaps (sorted once, then a binary search per hold)."""
    ordered = sorted(gaps, key=lambda gap: gap.seconds)
    seconds = [gap.seconds for gap in ordered]
    idle_before = [0.0, *accumulate(seconds)]  # idle seconds of the k shortest gaps
    late_after = [*accumulate((gap.late_if_cold for gap in reversed(ordered)), initial=0)][::-1]
    costs = []
    for m in minutes:
        hold_s = 60.0 * m
        k = bisect_right(seconds, hold_s)  # the gaps it bridges
        cold = len(ordered) - k
        costs.append(HoldCost(m, idle_before[k] + cold * (hold_s + boot_s), late_after[k], k))
    return costs


def derive_hold(
    gaps: Sequence[Gap], boot_s: float, allowed_late: int, minutes: Sequence[int], default: int
) -> HoldCost:
    """The hold (whole minutes among ``minutes``) that costs least with at most ``allowed_late``
    messages late; none within it: the fewest late, then the cheapest."""
    if not minutes:
        raise ValueError("no hold to choose from")
    costs = hold_costs(gaps, boot_s, minutes)
    within = [cost for cost in costs if cost.late <= allowed_late]

    def order(cost: HoldCost) -> tuple[float, bool, int]:
        return (cost.instance_seconds, cost.minutes != default, cost.minutes)

    if within:
        return min(within, key=order)
    return min(costs, key=lambda cost: (cost.late, *order(cost)))


def late_budget(messages: int, goal: float, already_late: int) -> int:
    """Messages the goal lets miss, less those that miss whatever the hold."""
    return math.floor(messages * (1.0 - goal) + 1e-9) - already_late


def burst_instances(
    arrivals: Sequence[float],
    processing: Sequence[float],
    starts: Sequence[float],
    window_s: float,
    concurrency: int,
) -> list[int]:
    """Instances' worth of the work that arrives in the first ``window_s`` of each busy period."""
    sizes = []
    for start in starts:
        first = bisect_left(arrivals, start)
        last = bisect_left(arrivals, start + window_s)
        work = sum(processing[first:last])
        sizes.append(max(1, math.ceil(work / (concurrency * window_s))))
    return sizes


def refill_demand(starts: Sequence[float], bursts: Sequence[int], refill_s: float) -> int:
    """The most instances the busy periods starting within any ``refill_s`` ask for: a pool refills
    a used instance only after a full boot, so that many find it full only if it holds them all."""
    best = total = 0
    first = 0
    for last, start in enumerate(starts):
        total += bursts[last]
        while starts[first] <= start - refill_s:
            total -= bursts[first]
            first += 1
        best = max(best, total)
    return best


def pool_sizes(bursts: Sequence[int], limit: int, given: int = 0, demand: int = 0) -> list[int]:
    """A few warm pool sizes to try: one instance, the median burst, and the largest burst or the
    largest ``demand`` within one refill (at most ``limit``), plus a size the user gave."""
    ordered = sorted(bursts)
    wanted = {1, given, demand}
    if ordered:
        wanted |= {ordered[(len(ordered) - 1) // 2], ordered[-1]}
    return sorted({min(limit, n) for n in wanted if n > 0})
