"""The planner: template parameters for a workload, checked on the simulator.

Pure (no AWS). From a trace and what the user cannot change (SLO, boot time, slots per instance,
platform), it derives:

* ``InitialTarget`` with the tuner's own formula (`scaling.target.initial_target`, the tuner's rails)
  from the trace's mean and p99 processing time, at the lead time the tuner will be told;
* ``CapacityLeadSeconds``: the high alarm's 3 datapoints plus the boot time, as the simulator's
  tuner reserves it (`SimFleet.target_model`);
* ``MaxCapacity``: the busiest window's work sized first, then raised until the simulated `tuned`
  policy meets the goal (99% of messages within the SLO, the benchmark's) or the limit is hit;
* ``ShutdownAfterMinutes`` (``KeepWarmMinutes`` when one instance is kept warm): derived from the
  trace's idle gaps and the boot time (`qas.plan.idle_gaps`), simulated against the template's
  default and kept only when the simulation agrees; when the goal is missed, the derived hold and
  then longer fixed ones until one reaches it.

`qas.plan.frontier` then weighs the alternatives to a cold start (KeepWarm, an EC2 warm pool).

When the goal is out of reach it says why, from the trace and the always-on reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from qas.argtypes import MAX_BOOT_S, MAX_SLO_S
from qas.model.control_plane import Platform
from qas.plan import idle_gaps
from qas.sim.bench import SLO_GOAL
from qas.sim.engine import SimResult, duration_stats
from qas.sim.policies import REFERENCE, SimFleet
from qas.sim.realism import PRESETS, preset
from qas.sim.runner import simulate
from qas.sim.traces import Trace
from qas.sim.warm_pool import WarmPoolSettings
from queue_autoscaler.scaling.policy_spec import POLICY
from queue_autoscaler.scaling.target import DurationStats
from queue_autoscaler.scaling.target import initial_target as formula_target

TAIL_PERCENTILE = 99.0  # the tuner's TAIL_PERCENTILE (p99)
# template.yaml's own bounds on the parameters the planner prints (tests/plan checks they agree).
MAX_CAPACITY_CEILING = 1000  # MaxCapacity MaxValue
MAX_CONCURRENCY = 64  # WorkerConcurrency MaxValue
MIN_SLO_S = 1.0  # LatencySloSeconds MinValue
SHUTDOWN_MINUTES_RANGE = (1, 60)  # ShutdownAfterMinutes MinValue, MaxValue
SHUTDOWN_DEFAULT = POLICY.shutdown_after_minutes  # the template's default
# Longer holds tried, in order, when the goal is missed at the default and at the derived hold.
SHUTDOWN_CHOICES = (3, 5, 10, 15)  # minutes (ShutdownAfterMinutes, or KeepWarmMinutes with KeepWarm)
KEEP_WARM_MINUTES_RANGE = (1, 120)  # KeepWarmMinutes MinValue, MaxValue
HEADROOM = 1.2  # first MaxCapacity guess: the busiest window's instances x this
GROWTH = 1.5  # MaxCapacity x this per round while the simulated goal is missed
MAX_ROUNDS = 8
MIN_GAIN = 0.001  # a larger MaxCapacity must gain at least 0.1 point of attainment


@dataclass(frozen=True)
class PlanRequest:
    slo_s: float
    boot_s: float
    concurrency: int
    platform: Platform = Platform.EC2
    max_capacity_limit: int | None = None  # the most the user allows; None: the template's ceiling
    goal: float = SLO_GOAL
    # The simulator's preset the prediction runs under: "aws" (delays, noise, failures of the real
    # service) by default: "ideal" predicts an attainment the real service does not reach
    # (docs/design.md, "Policy spec: why each value").
    realism: str = "aws"

    def __post_init__(self) -> None:
        # Negated comparisons: NaN fails every one of them (the CLI's argparse types check first).
        if not MIN_SLO_S <= self.slo_s <= MAX_SLO_S:
            raise ValueError(f"--slo-seconds must be within {MIN_SLO_S:g}..{MAX_SLO_S:g}, got {self.slo_s!r}")
        if not 0 <= self.boot_s <= MAX_BOOT_S:
            raise ValueError(f"--boot-seconds must be within 0..{MAX_BOOT_S:g}, got {self.boot_s!r}")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"--concurrency must be within 1..{MAX_CONCURRENCY}, got {self.concurrency!r}")
        if self.realism not in PRESETS:
            raise ValueError(f"--realism must be one of {', '.join(PRESETS)}")
        if self.max_capacity_limit is not None and not 1 <= self.max_capacity_limit <= MAX_CAPACITY_CEILING:
            raise ValueError(f"--max-capacity must be within 1..{MAX_CAPACITY_CEILING}")

    @property
    def ceiling(self) -> int:
        return self.max_capacity_limit or MAX_CAPACITY_CEILING

    def fleet(
        self, max_capacity: int, idle_minutes: int | None = None, keep_warm: bool | None = None
    ) -> SimFleet:
        """``idle_minutes``: how long the queue stays empty before zero: KeepWarmMinutes when the fleet
        keeps one warm, else ShutdownAfterMinutes (None: the template's default of the one that applies).
        ``keep_warm``: KeepWarm on or off (None: as the SLO and the cold start call for)."""
        fleet = SimFleet(
            slo_s=self.slo_s,
            max_capacity=max_capacity,
            boot_s=self.boot_s,
            concurrency=self.concurrency,
            platform=self.platform,
        )
        if keep_warm is not None:
            fleet = replace(fleet, keep_warm=keep_warm)
        if idle_minutes is None:
            return fleet
        if fleet.keeps_warm:
            return replace(fleet, keep_warm_minutes=idle_minutes)
        return replace(fleet, shutdown_minutes=idle_minutes)

    @property
    def keeps_warm(self) -> bool:
        return self.fleet(1).keeps_warm

    @property
    def default_idle_minutes(self) -> int:
        return default_hold(self.keeps_warm)

    @property
    def cold_start_s(self) -> float:
        """The bootstrap alarm's period plus the boot (as scaling.backlog.keeps_warm counts it)."""
        return self.fleet(1).period_s + self.boot_s


def default_hold(keeps_warm: bool) -> int:
    """The template's default: KeepWarmMinutes with KeepWarm, else ShutdownAfterMinutes."""
    return POLICY.keep_warm_minutes if keeps_warm else SHUTDOWN_DEFAULT


def hold_range(keeps_warm: bool) -> range:
    low, high = KEEP_WARM_MINUTES_RANGE if keeps_warm else SHUTDOWN_MINUTES_RANGE
    return range(low, high + 1)


@dataclass(frozen=True)
class Workload:
    """What the trace asks for."""

    messages: int
    span_s: float
    stats: DurationStats  # mean and exact p99, as the tuner sees them
    over_slo_share: float  # jobs longer than the SLO on their own: no capacity helps them
    window_s: float  # the busiest window considered: the time a message may wait (SLO - p99)
    peak_instances: float  # that window's work / (concurrency x window)


def _amount(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def check_steady_load(rate_per_minute: float, duration_s: float, request: PlanRequest) -> None:
    """A steady load whose average alone needs more instances than the fleet may have: no capacity
    plan helps, and simulating it would only take long to say so."""
    busy_slots = rate_per_minute / 60.0 * duration_s  # Little's law: arrival rate x time in service
    instances = busy_slots / request.concurrency
    if instances <= request.ceiling:
        return
    limit = (
        f"--max-capacity {request.max_capacity_limit}"
        if request.max_capacity_limit
        else f"MaxCapacity's ceiling of {MAX_CAPACITY_CEILING:,} (the template's maximum)"
    )
    raise ValueError(
        f"--rate-per-minute {rate_per_minute:g} x --duration-seconds {duration_s:g} keeps "
        f"{_amount(busy_slots)} worker slots busy on average: {_amount(instances)} instances at "
        f"--concurrency {request.concurrency}, past {limit}. The queue would grow without end; "
        f"split the load over several queues and fleets, shorten the jobs or raise --concurrency."
    )


def describe(trace: Trace, request: PlanRequest) -> Workload:
    if len(trace) == 0:
        raise ValueError("the trace has no messages: nothing to plan for")
    stats = duration_stats(list(trace.processing_s), TAIL_PERCENTILE)
    assert stats is not None and stats.tail_s is not None
    if stats.mean_s <= 0:  # the tuner's formula divides by the mean
        raise ValueError("every message takes 0 s to process: there is no work to plan for")
    over = sum(1 for p in trace.processing_s if p > request.slo_s) / len(trace)
    window = max(60.0, request.slo_s - stats.tail_s)
    return Workload(
        messages=len(trace),
        span_s=max(trace.duration_s, 60.0),
        stats=stats,
        over_slo_share=over,
        window_s=window,
        peak_instances=_busiest_work(trace, window) / (request.concurrency * window),
    )


def _busiest_work(trace: Trace, window_s: float) -> float:
    """The most processing seconds arriving within any ``window_s`` (two pointers over arrivals)."""
    best = total = 0.0
    first = 0
    for last, arrival in enumerate(trace.arrival_s):
        total += trace.processing_s[last]
        while trace.arrival_s[first] <= arrival - window_s:
            total -= trace.processing_s[first]
            first += 1
        best = max(best, total)
    return best


def initial_target(workload: Workload, request: PlanRequest) -> int:
    """The tuner's formula on the trace's durations (`scaling.target.initial_target`), as the whole
    number >= 1 the template parameter takes."""
    fleet = request.fleet(1)
    return max(1, round(formula_target(workload.stats, fleet.target_model(), fleet.rails)))


def run_simulation(
    trace: Trace,
    policy: str,
    fleet: SimFleet,
    target: float,
    realism: str = "aws",
    *,
    warm_pool: WarmPoolSettings | None = None,
    queue_weights: tuple[float, ...] | None = None,
) -> SimResult:
    """The one place the planner simulates."""
    return simulate(
        trace,
        policy,
        fleet,
        initial_target=target,
        realism=preset(realism, fleet.period_s),
        warm_pool=warm_pool,
        queue_weights=queue_weights,
    )


@dataclass
class Trial:
    max_capacity: int
    idle_minutes: int
    slo_attainment: float
    cost_ratio: float


@dataclass(frozen=True)
class IdleHold:
    """The hold derived from the trace's idle gaps, and whether the simulation kept it."""

    derived: idle_gaps.HoldCost
    default_minutes: int
    gaps: int
    adopted: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "derived_minutes": self.derived.minutes,
            "default_minutes": self.default_minutes,
            "idle_gaps": self.gaps,
            "bridged_gaps": self.derived.bridged,
            "late_from_cold_starts": self.derived.late,
            "adopted": self.adopted,
        }


@dataclass
class Plan:
    request: PlanRequest
    workload: Workload
    initial_target: int
    max_capacity: int
    idle_minutes: int  # empty-queue minutes before 0: KeepWarmMinutes (KeepWarm) or ShutdownAfterMinutes
    result: SimResult  # `tuned` with these parameters
    reference: SimResult  # always-on at MaxCapacity: the best any policy can do with it
    trials: list[Trial] = field(default_factory=list)
    why_not: list[str] = field(default_factory=list)  # empty when the goal is met
    hold: IdleHold | None = None
    keep_warm: bool | None = None  # KeepWarm chosen over the cold-start rule (None: the rule's)
    warm_pool: WarmPoolSettings | None = None  # an EC2 warm pool chosen by the frontier

    @property
    def reachable(self) -> bool:
        return not self.why_not

    @property
    def keeps_warm(self) -> bool:
        return self.request.keeps_warm if self.keep_warm is None else self.keep_warm

    @property
    def fleet(self) -> SimFleet:
        return self.request.fleet(self.max_capacity, self.idle_minutes, self.keep_warm)

    @property
    def capacity_lead_s(self) -> float:
        return self.request.fleet(self.max_capacity).target_model().capacity_lead_s

    @property
    def shutdown_after_minutes(self) -> int:
        return SHUTDOWN_DEFAULT if self.keeps_warm else self.idle_minutes

    @property
    def keep_warm_minutes(self) -> int | None:
        return self.idle_minutes if self.keeps_warm else None

    @property
    def parameter_overrides(self) -> dict[str, str]:
        warm = self.keep_warm_minutes
        pool = self.warm_pool
        return {
            "WorkerPlatform": str(self.request.platform),
            "WorkerConcurrency": str(self.request.concurrency),
            "LatencySloSeconds": f"{self.request.slo_s:g}",
            "MaxCapacity": str(self.max_capacity),
            "InitialTarget": str(self.initial_target),
            "CapacityLeadSeconds": f"{self.capacity_lead_s:g}",
            "ShutdownAfterMinutes": str(self.shutdown_after_minutes),
            # A cold start longer than 60% of the SLO: keep one warm (scaling.backlog.keeps_warm), and
            # the searched idle time is then KeepWarmMinutes.
            "KeepWarm": str(warm is not None).lower(),
            **({"KeepWarmMinutes": str(warm)} if warm is not None else {}),
            # AWS refuses Spot in a warm pool's group (the template's Rule WarmPoolNeedsOnDemand).
            **(
                {"WarmPool": "Stopped", "WarmPoolSize": str(pool.size), "OnDemandPercentage": "100"}
                if pool is not None
                else {}
            ),
        }

    @property
    def average_instances(self) -> float:
        return self.result.instance_seconds / max(self.result.simulated_s, 1.0)


def plan(trace: Trace, request: PlanRequest) -> Plan:
    workload = describe(trace, request)
    target = initial_target(workload, request)
    trials: list[Trial] = []

    def tuned(max_capacity: int, idle: int) -> SimResult:
        fleet = request.fleet(max_capacity, idle)
        result = run_simulation(trace, "tuned", fleet, target, request.realism)
        trials.append(Trial(max_capacity, idle, result.slo_attainment, result.cost_ratio))
        return result

    default = request.default_idle_minutes
    capacity = min(request.ceiling, max(1, math.ceil(workload.peak_instances * HEADROOM)))
    result = tuned(capacity, default)
    for _ in range(MAX_ROUNDS):
        if result.slo_attainment >= request.goal or capacity >= request.ceiling:
            break
        grown = tuned(min(request.ceiling, math.ceil(capacity * GROWTH)), default)
        if grown.slo_attainment <= result.slo_attainment + MIN_GAIN:
            break  # more capacity does not help: the misses come from elsewhere (explain says where)
        capacity, result = trials[-1].max_capacity, grown

    idle = default
    gaps = gaps_of(trace, request, request.boot_s)
    derived = derive_hold(gaps, workload, request, request.keeps_warm, request.boot_s)
    if result.slo_attainment >= request.goal:
        # The derived hold, kept only when the simulation agrees: the goal met for fewer instance-hours.
        if derived.minutes != default:
            other = tuned(capacity, derived.minutes)
            if other.slo_attainment >= request.goal and other.instance_seconds < result.instance_seconds:
                result, idle = other, derived.minutes
    else:
        # Cold starts, not capacity, may be what misses: a longer wait before zero can reach the goal.
        # The derived hold first, then the fixed ones past it; none reaches it: the closest.
        start = max(default, derived.minutes)
        longer = [derived.minutes] if derived.minutes > default else []
        longer += [m for m in SHUTDOWN_CHOICES if m > start]
        for minutes in longer:
            other = tuned(capacity, minutes)
            if other.slo_attainment > result.slo_attainment:
                result, idle = other, minutes
            if other.slo_attainment >= request.goal:
                break

    reference = run_simulation(trace, REFERENCE, request.fleet(capacity, idle), target, request.realism)
    hold = IdleHold(derived, default, len(gaps.gaps), idle == derived.minutes)
    found = Plan(request, workload, target, capacity, idle, result, reference, trials, hold=hold)
    if result.slo_attainment < request.goal:
        found.why_not = explain(found)
    return found


def gaps_of(trace: Trace, request: PlanRequest, boot_s: float) -> idle_gaps.Gaps:
    """The trace's idle gaps, with a cold start of one alarm period plus ``boot_s``."""
    cold_start_s = request.cold_start_s - request.boot_s + boot_s
    return idle_gaps.idle_gaps(trace.arrival_s, trace.processing_s, request.slo_s, cold_start_s)


def derive_hold(
    gaps: idle_gaps.Gaps, workload: Workload, request: PlanRequest, keeps_warm: bool, boot_s: float
) -> idle_gaps.HoldCost:
    """The hold the gaps call for (KeepWarmMinutes or ShutdownAfterMinutes, within the template's
    range), with ``boot_s`` the instance time a start bills (from a warm pool: the warm start and
    its replacement's full boot; the gaps' late messages counted with the pool's shorter start)."""
    over_slo = round(workload.over_slo_share * workload.messages)
    budget = idle_gaps.late_budget(workload.messages, request.goal, gaps.first_late + over_slo)
    return idle_gaps.derive_hold(gaps.gaps, boot_s, budget, hold_range(keeps_warm), default_hold(keeps_warm))


def explain(found: Plan) -> list[str]:
    """Why the goal is out of reach, and what would make it reachable."""
    request, workload, goal = found.request, found.workload, found.request.goal
    p99 = workload.stats.tail_s or workload.stats.mean_s
    reasons: list[str] = []
    if workload.over_slo_share > 1 - goal:
        reasons.append(
            f"{workload.over_slo_share:.1%} of the jobs take longer than the SLO of {request.slo_s:g} s on "
            f"their own (p99 {p99:.0f} s): no capacity gets them done in time. Reachable with "
            f"LatencySloSeconds of at least {math.ceil(p99 + request.boot_s + 180)} s (p99 + boot + 3 alarm "
            f"minutes), or with jobs split into parts shorter than the SLO."
        )
    if found.reference.slo_attainment < goal:
        needed = math.ceil(workload.peak_instances)
        limit = "your limit" if request.max_capacity_limit else "the template's maximum"
        reasons.append(
            f"MaxCapacity {found.max_capacity} ({limit}) cannot serve the load: even always on, it gets "
            f"{found.reference.slo_attainment:.1%} of messages within the SLO. The busiest "
            f"{workload.window_s:.0f} s bring {needed} instances' worth of work "
            f"({request.concurrency} slots each); reachable with a higher MaxCapacity, more slots per "
            f"instance (WorkerConcurrency) or a longer SLO."
        )
    if not reasons:
        reasons.append(
            f"always on, MaxCapacity {found.max_capacity} meets the SLO "
            f"({found.reference.slo_attainment:.1%}), "
            f"but scaling gets {found.result.slo_attainment:.1%}: the fleet does not follow the load fast "
            f"enough (new capacity takes {found.capacity_lead_s:g} s, alarm + boot, against an SLO of "
            f"{request.slo_s:g} s; a change in processing time is measured over the tuner's 10-minute "
            f"lookback). Reachable with a faster boot or a longer SLO; a longer trace also weighs the "
            f"start from zero less."
        )
    return reasons
