"""The clairvoyant yardstick: a capacity schedule planned from the whole trace, then replayed.

A scheduler that knows every arrival and processing time in advance plans the desired capacity of
every metric period (the only moments a policy can change it), and the plan is replayed through the
same engine and accounting as every policy, so its attainment and cost are measured, not claimed.

The plan (`plan`) is a run of the `ideal` engine under a look-ahead controller that reads the
engine's fleet and queue each period (`_PlanningRun.fleet_view`) and tries each decision on a model of
the next minutes: SQS order (first in, first out: with one SLO for every message that is also
earliest-deadline-first), a message takes the earliest free slot, an instance consumes ``boot_s``
after the period it was launched in, billing runs from launch to termination, and a busy instance
that the plan retires finishes its jobs first (scale-in protection). Planning on the engine itself
matters with several slots per instance: the engine retires an instance only once all its slots are
idle, which a separate model got wrong (docs/design.md, "The clairvoyant yardstick").

* **Latest starts.** A message must start by ``arrival + SLO - processing`` (a message longer than
  the SLO misses anyway: it must start within the SLO). A backward pass over ``max_capacity x
  concurrency`` slots moves each latest start earlier when the messages behind it could not otherwise
  all start in time (FIFO starts are in arrival order), and never before the arrival.
* **Launch one boot before the need.** At each period the plan launches the fewest instances that let
  every *urgent* message (one a launch at the next period would be too late for) start by its latest
  start; never above ``max_capacity``.
* **Bridge a gap only when cheaper than a boot.** An idle instance (or one whose work ends before the
  next period) is retired unless an urgent message needs it, or a message within the next boot and
  period needs it and its next job comes less than one boot after it is free: the replacement would
  cost a boot, keeping it costs the gap. The platform bills per second from launch
  (`qas.sim.realism` models no billing minimum).
* **The miss budget.** With a ``price`` (instances worth one missed message), each period launches
  the count that minimises ``launches + price x misses`` (of the messages' own SLOs): capacity goes
  first where it saves the most per missed message. `solve` bisects the price on replays to the
  cheapest schedule that still attains the target.

What the result is and is not is in docs/simulator.md ("The clairvoyant bound").
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

from qas.sim.engine import EngineSettings, SimResult, Simulation
from qas.sim.policies import AlwaysOn, Observation, SimFleet, StatsFor, Step
from qas.sim.realism import IDEAL, Realism
from qas.sim.traces import Trace
from queue_autoscaler.scaling.estimate import RunningJobs

NAME = "clairvoyant"
DEFAULT_ATTAINMENT = 0.99
CEILING_MARGIN = 0.005  # below an unreachable target: the always-on ceiling minus half a point
# Prices (instances worth one missed message) tried for the bench's cost-attainment frontier.
FRONTIER_PRICES: tuple[float | None, ...] = (None, 10.0, 5.0, 3.0, 2.0, 1.5, 1.0, 0.5)
BISECTION_STEPS = 8
MARGINS_S = (0.0, 60.0, 180.0)  # earlier latest starts, when the replay misses what the plan met
# At most this many queued messages are looked at per decision (a deep backlog: overload), for speed.
WINDOW_CAP = 4000


@dataclass
class _Instance:
    ready_s: float
    slots: list[float]  # when each slot is free

    @property
    def free_s(self) -> float:
        return max(self.ready_s, *self.slots)


@dataclass(frozen=True)
class Schedule:
    """Desired capacity per metric period (index k: the decision at ``k x period_s``)."""

    period_s: float
    desired: tuple[int, ...]
    price: float | None = None
    margin_s: float = 0.0

    def at(self, now_s: float) -> int:
        k = int(now_s // self.period_s + 1e-9)
        return self.desired[k] if k < len(self.desired) else 0


def latest_starts(trace: Trace, fleet: SimFleet, drain_s: float, margin_s: float = 0.0) -> list[float]:
    """When each message must start (see the module docstring): FIFO-monotone, never before arrival."""
    arrivals, proc = trace.arrival_s, trace.processing_s
    n = len(arrivals)
    if n == 0:
        return []
    end = arrivals[-1] + drain_s - 2 * fleet.period_s  # finish inside the engine's drain
    own = [
        min(a + (fleet.slo_s - p if p <= fleet.slo_s else fleet.slo_s) - margin_s, end - p)
        for a, p in zip(arrivals, proc, strict=True)
    ]
    slots = [-math.inf] * (fleet.max_capacity * fleet.concurrency)  # max-heap of "free by" (negated)
    out = [0.0] * n
    later = math.inf
    for j in range(n - 1, -1, -1):
        free_by = -slots[0]
        latest = max(arrivals[j], min(own[j], free_by - proc[j], later))
        heapq.heapreplace(slots, -latest)
        out[j] = later = latest
    return out


class _PlanningRun(Simulation):
    """The engine, letting the look-ahead controller read its fleet and queue."""

    def fleet_view(self) -> tuple[list[tuple[float, list[float]]], int | None]:
        """Each live instance's launch time and when each of its busy slots is free, and the first
        waiting message (None: none waits)."""
        proc = self.trace.processing_s
        fleet = [
            (i.launched_s, [start + proc[msg] for msg, start in i.started.items()])
            for i in self._instances.values()
        ]
        waiting = self._queue[self._head] if self._hook is None and self._visible() else None
        return fleet, waiting


class _Lookahead:
    """The planning run's controller: at each period it reads the engine's fleet and queue
    (`_PlanningRun.fleet_view`) and decides from the trace's future; its decisions are the schedule."""

    protects_busy = True  # the plan lets a retired busy instance finish (scale-in protection)
    tune_every_s = 3600.0
    lookback_s = 3600.0

    def __init__(self, trace: Trace, fleet: SimFleet, latest: list[float], price: float | None) -> None:
        self.trace = trace
        self.fleet = fleet
        self.latest = latest
        # Each message's own latest start for its SLO (-inf: longer than the SLO, a miss anyway).
        self.own = [
            a + fleet.slo_s - p if p <= fleet.slo_s else -math.inf
            for a, p in zip(trace.arrival_s, trace.processing_s, strict=True)
        ]
        self.price = price
        self.head = 0  # first message not started yet
        self.sim: _PlanningRun | None = None
        self.decisions: dict[int, int] = {}

    @property
    def target(self) -> float | None:
        return None

    def retune(self, stats_for: StatsFor, running: RunningJobs) -> None:
        return None

    def step(self, obs: Observation) -> Step:
        assert self.sim is not None, "attach the simulation first"
        now = obs.now_s
        view, waiting = self.sim.fleet_view()
        boot, conc = self.fleet.boot_s, self.fleet.concurrency
        live = [
            _Instance(launched + boot, [*busy, *([max(now, launched + boot)] * (conc - len(busy)))])
            for launched, busy in view
        ]
        self.head = waiting if waiting is not None else bisect.bisect_right(self.trace.arrival_s, now)
        upto = self._urgent_end(now)
        desired = len(live) + self._launches(live, upto, now)
        if desired == len(live):
            desired -= self._retire(live, upto, now)
        self.decisions[int(now // self.fleet.period_s + 1e-9)] = desired
        return Step(desired, int(desired != obs.desired))

    def _starts(
        self,
        instances: Sequence[_Instance],
        upto: int,
        extra: int,
        now_s: float,
        *,
        avoid: _Instance | None = None,
        counted: int | None = None,
        slo: bool = False,
    ) -> tuple[int, float]:
        """Queue messages [head, upto) on these instances plus ``extra`` launched now: how many of the
        first ``counted`` miss their latest start (``slo``: their SLO), and when ``avoid`` (taken only
        when no other slot is as early) is first used."""
        counted = upto if counted is None else counted
        main = [max(i.ready_s, s) for i in instances if i is not avoid for s in i.slots]
        main += [now_s + self.fleet.boot_s] * (extra * self.fleet.concurrency)
        heapq.heapify(main)
        spare = [max(avoid.ready_s, s) for s in avoid.slots] if avoid is not None else []
        heapq.heapify(spare)
        arrivals, proc = self.trace.arrival_s, self.trace.processing_s
        latest = self.own if slo else self.latest
        misses, used = 0, math.inf
        for j in range(self.head, upto):
            if not main and not spare:
                misses += max(0, counted - j)
                break
            a = arrivals[j]
            on_main = max(a, main[0]) if main else math.inf
            on_spare = max(a, spare[0]) if spare else math.inf
            if on_main <= on_spare:
                start = on_main
                heapq.heapreplace(main, start + proc[j])
            else:
                start = on_spare
                used = min(used, start)
                heapq.heapreplace(spare, start + proc[j])
            misses += j < counted and start > latest[j] + 1e-9
        return misses, used

    def _urgent_end(self, now_s: float) -> int:
        """Messages a launch at the next period could not serve in time: a prefix, as latest is sorted."""
        end = bisect.bisect_left(self.latest, now_s + self.fleet.period_s + self.fleet.boot_s, self.head)
        return min(end, self.head + WINDOW_CAP)

    def _misses(
        self, live: list[_Instance], upto: int, extra: int, now_s: float, *, slo: bool = False
    ) -> int:
        return self._starts(live, upto, extra, now_s, slo=slo)[0]

    def _launches(self, live: list[_Instance], upto: int, now_s: float) -> int:
        room = self.fleet.max_capacity - len(live)
        if upto <= self.head or room <= 0:
            return 0
        least = 0 if live else 1  # urgent messages keep one instance, late or not
        best = self._misses(live, upto, room, now_s)
        lo, hi = least, room  # the fewest launches that reach the fewest misses
        while lo < hi:
            mid = (lo + hi) // 2
            if self._misses(live, upto, mid, now_s) <= best:
                hi = mid
            else:
                lo = mid + 1
        if self.price is None or lo == least:
            return lo
        # The miss budget: fewer launches where each saves less than 1/price missed messages, counted
        # against each message's own SLO (a latest start moved earlier for the one behind it is not a
        # miss of its own).
        fewer = (
            range(least, lo) if lo - least <= 32 else {lo - 2**k for k in range(lo.bit_length())} | {least}
        )
        choice, value = lo, lo + self.price * self._misses(live, upto, lo, now_s, slo=True)
        for count in sorted(c for c in fewer if c >= least):
            score = count + self.price * self._misses(live, upto, count, now_s, slo=True)
            if score < value:
                choice, value = count, score
        return choice

    def _retire(self, live: list[_Instance], upto: int, now_s: float) -> int:
        """Retire idle instances (or ones free before the next period) unless an urgent message needs
        them, or a message within the next boot and period needs them and comes within a boot."""
        period, boot = self.fleet.period_s, self.fleet.boot_s
        free_by = now_s + period  # a busy one the plan retires ends with its jobs (scale-in protection)
        candidates = sorted(
            (i for i in live if i.ready_s <= now_s and i.free_s < free_by), key=lambda i: i.free_s
        )
        if not candidates:
            return 0
        window = max(upto, min(self._window_end(now_s + period + boot), self.head + WINDOW_CAP))
        kept = list(live)
        urgent = self._starts(kept, window, 0, now_s, counted=upto)[0]
        near = self._starts(kept, window, 0, now_s)[0]
        for inst in candidates:
            if len(kept) == 1 and upto > self.head:
                break  # urgent messages keep one instance, late or not
            others = [i for i in kept if i is not inst]
            if self._starts(others, window, 0, now_s, counted=upto)[0] > urgent:
                break  # needed for an urgent message: a launch at the next period would be late
            if self._starts(others, window, 0, now_s)[0] > near:
                # Needed within a boot and a period, though not at once: bridge the gap when its next
                # job comes within a boot of it being free (cheaper than a new boot). The engine
                # retires idle instances first, so none after this one either.
                used = self._starts(kept, window, 0, now_s, avoid=inst)[1]
                if used - max(now_s, inst.free_s) < boot:
                    break
            kept = others
        return len(live) - len(kept)

    def _window_end(self, until_s: float) -> int:
        arrivals = self.trace.arrival_s
        lo, hi = self.head, len(arrivals)
        while lo < hi:
            mid = (lo + hi) // 2
            if arrivals[mid] < until_s:
                lo = mid + 1
            else:
                hi = mid
        return lo


def plan(trace: Trace, fleet: SimFleet, *, price: float | None = None, margin_s: float = 0.0) -> Schedule:
    """The capacity schedule; ``price`` None attains as much as the fleet can, else spends misses.

    A planning run of the `ideal` engine under the lookahead controller: the schedule is what it
    decided each period, so its replay under `ideal` gives the planning run's numbers."""
    if not models(trace):
        raise ValueError(
            "the clairvoyant schedule models one standard queue, not FIFO message groups or several queues"
        )
    engine = _engine(fleet, IDEAL, False)
    controller = _Lookahead(trace, fleet, latest_starts(trace, fleet, engine.drain_s, margin_s), price)
    sim = _PlanningRun(trace, controller, engine, fleet.slo_s)
    controller.sim = sim
    sim.run()
    last = max(controller.decisions, default=0)
    desired = tuple(controller.decisions.get(k, 0) for k in range(last + 1))
    return Schedule(float(fleet.period_s), desired, price, margin_s)


class Replay:
    """The schedule as a policy: the engine asks for the desired capacity once per period."""

    protects_busy = True  # as in the planning run
    tune_every_s = 3600.0
    lookback_s = 3600.0

    def __init__(self, schedule: Schedule, max_capacity: int) -> None:
        self.schedule = schedule
        self.max_capacity = max_capacity

    @property
    def target(self) -> float | None:
        return None

    def step(self, obs: Observation) -> Step:
        # Under a metric delay the alarm acts later in the same period: the period is the floor.
        desired = min(self.max_capacity, self.schedule.at(obs.now_s))
        return Step(desired, int(desired != obs.desired))

    def retune(self, stats_for: StatsFor, running: RunningJobs) -> None:
        return None


def _engine(fleet: SimFleet, realism: Realism, record_timeline: bool, initial: int = 0) -> EngineSettings:
    return EngineSettings(
        concurrency=fleet.concurrency,
        boot_s=fleet.boot_s,
        period_s=float(fleet.period_s),
        tail_percentile=fleet.tail_percentile,
        record_timeline=record_timeline,
        initial_running=initial,
        realism=realism,
        in_service_s=fleet.published_in_service_s,
    )


def replay(
    trace: Trace,
    fleet: SimFleet,
    schedule: Schedule,
    *,
    realism: Realism = IDEAL,
    record_timeline: bool = False,
) -> SimResult:
    engine = _engine(fleet, realism, record_timeline)
    return Simulation(trace, Replay(schedule, fleet.max_capacity), engine, fleet.slo_s).run()


def ceiling(trace: Trace, fleet: SimFleet, realism: Realism = IDEAL) -> float:
    """The attainment of ``max_capacity`` running from the start: what no schedule can beat."""
    engine = _engine(fleet, realism, False, fleet.max_capacity)
    return Simulation(trace, AlwaysOn(fleet), engine, fleet.slo_s).run().slo_attainment


def target_attainment(wanted: float, reachable: float) -> float:
    """The target: ``wanted``, or the ceiling minus half a point when the fleet cannot reach it."""
    return wanted if reachable >= wanted else max(0.0, reachable - CEILING_MARGIN)


def solve(
    trace: Trace,
    fleet: SimFleet,
    attainment: float = DEFAULT_ATTAINMENT,
    *,
    realism: Realism = IDEAL,
    record_timeline: bool = False,
) -> SimResult:
    """The cheapest replayed schedule found that attains the target (`target_attainment`): the full
    schedule (with earlier latest starts if its replay falls short), then the price bisected to spend
    the miss budget. When none attains the target, the nearest: the replay says so."""
    target = target_attainment(attainment, ceiling(trace, fleet, realism))

    def run(price: float | None, margin: float) -> SimResult:
        schedule = plan(trace, fleet, price=price, margin_s=margin)
        return replay(trace, fleet, schedule, realism=realism, record_timeline=record_timeline)

    best = run(None, MARGINS_S[0])
    margin = MARGINS_S[0]
    for later in MARGINS_S[1:]:
        if best.slo_attainment >= target:
            break
        margin, best = later, max(best, run(None, later), key=lambda r: r.slo_attainment)
    if best.slo_attainment < target:
        return best
    lo, hi = math.log(1e-4), math.log(1e3)  # the price, on a log scale
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2
        result = run(math.exp(mid), margin)
        if result.slo_attainment >= target:
            hi = mid
            if result.instance_seconds < best.instance_seconds:
                best = result
        else:
            lo = mid
    return best


@dataclass(frozen=True)
class Point:
    attainment: float
    instance_seconds: float


def models(trace: Trace) -> bool:
    """Whether the schedule can be planned for this trace: one standard queue."""
    return trace.group is None and trace.queue is None


def frontier_replays(
    trace: Trace,
    fleet: SimFleet,
    *,
    prices: Sequence[float | None] = FRONTIER_PRICES,
    record_timeline: bool = False,
) -> list[SimResult]:
    """The replays of schedules from the full one to cheap ones (`ideal` engine), one per price."""
    schedules = (plan(trace, fleet, price=price) for price in prices)
    return [replay(trace, fleet, schedule, record_timeline=record_timeline) for schedule in schedules]


def frontier(trace: Trace, fleet: SimFleet, prices: Sequence[float | None] = FRONTIER_PRICES) -> list[Point]:
    """Replayed (attainment, cost) of schedules from the full one to cheap ones (`ideal` engine)."""
    replays = frontier_replays(trace, fleet, prices=prices)
    return [Point(r.slo_attainment, r.instance_seconds) for r in replays]


def bound_at(points: Sequence[Point], attainment: float) -> Point | None:
    """The cheapest point attaining ``attainment``, clamped to the best attainment reached."""
    if not points:
        return None
    reachable = max(p.attainment for p in points)
    wanted = min(attainment, reachable)
    return min((p for p in points if p.attainment >= wanted), key=lambda p: p.instance_seconds)
