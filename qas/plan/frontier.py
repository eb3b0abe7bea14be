"""What pays against cold starts: the options simulated and priced, the cost/attainment frontier in
dollars, and the one recommended (docs/deploy.md#planning-capacity, "Against cold starts").

At the plan's MaxCapacity and InitialTarget the planner has simulated one option (scale to zero after
ShutdownAfterMinutes, or KeepWarm when a cold start is long). Here it simulates a few more:

* the other of those two, with the hold the load's idle gaps call for (`qas.plan.idle_gaps`);
* EC2 only: a warm pool (``WarmPool=Stopped``) of one instance, the median and the largest of the
  load's bursts, the most the bursts within one boot ask for (a used instance is replaced only after
  a full boot), and the ``--warm-pool`` size given; KeepWarm off, the hold derived for the warm start.

Every option is priced for a 730-hour month at the price it deploys with: on EC2 Spot without a pool
(the template's default ``OnDemandPercentage`` is 0) and On-Demand with one (a warm pool's group
refuses Spot), plus the pool's volumes and refills; on ECS Fargate; ``--price-per-hour`` for all.
The recommendation is the cheapest option that meets the goal (ties: the plan's own); when none
does, the plan as it was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qas.model.platforms import model_platform
from qas.plan import idle_gaps
from qas.plan.prices import HOURS_PER_MONTH, Price, default_price, prices_for
from qas.plan.recommend import Plan, derive_hold, gaps_of, run_simulation
from qas.plan.warm_pool import monthly_fleet_usd, pool_usd_per_month
from qas.sim.results import SimResult
from qas.sim.traces import Trace
from qas.sim.warm_pool import GP3_USD_PER_GB_MONTH, ROOT_VOLUME_GB, WarmPoolSettings

# Launch to consuming for an instance taken from a stopped pool (start, systemd, the worker's first
# receive): an assumption, not a measurement; `--warm-boot-seconds` replaces it.
DEFAULT_WARM_BOOT_S = 30.0
MAX_POOL_SIZE = 100  # the template's WarmPoolSize MaxValue


@dataclass(frozen=True)
class Option:
    keep_warm: bool
    idle_minutes: int  # KeepWarmMinutes with KeepWarm, else ShutdownAfterMinutes
    pool: WarmPoolSettings | None
    result: SimResult
    price: Price
    monthly_usd: float

    @property
    def name(self) -> str:
        hold = (
            f"KeepWarmMinutes={self.idle_minutes}"
            if self.keep_warm
            else f"ShutdownAfterMinutes={self.idle_minutes}"
        )
        if self.pool is not None:
            return f"warm pool of {self.pool.size} ({hold})"
        return f"KeepWarm ({hold})" if self.keep_warm else f"scale to zero ({hold})"

    @property
    def attainment(self) -> float:
        return self.result.slo_attainment

    @property
    def parameters(self) -> dict[str, str]:
        """The template parameters that make this option (the rest is the plan's)."""
        params = {"KeepWarm": str(self.keep_warm).lower()}
        params["KeepWarmMinutes" if self.keep_warm else "ShutdownAfterMinutes"] = str(self.idle_minutes)
        if self.pool is not None:
            params |= {
                "WarmPool": "Stopped",
                "WarmPoolSize": str(self.pool.size),
                "OnDemandPercentage": "100",
            }
        return params


def pareto(points: Sequence[tuple[float, float]]) -> list[bool]:
    """``(attainment, cost)`` pairs: on the frontier unless another is at least as good on both and
    better on one (equal points are both on it)."""

    def beaten(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return b[0] >= a[0] and b[1] <= a[1] and (b[0] > a[0] or b[1] < a[1])

    return [not any(beaten(p, q) for q in points) for p in points]


def cheapest(options: Sequence[Option], goal: float | None = None) -> int | None:
    """The index of the cheapest option (meeting ``goal`` if given); ties: the first."""
    eligible = [i for i, o in enumerate(options) if goal is None or o.attainment >= goal]
    return min(eligible, key=lambda i: options[i].monthly_usd) if eligible else None


@dataclass
class Frontier:
    options: list[Option]
    goal: float
    warm_boot_s: float | None  # None: no pool tried (ECS, or a warm start no shorter than the boot)
    warm_boot_assumed: bool
    notes: list[str] = field(default_factory=list)

    @property
    def on_frontier(self) -> list[bool]:
        return pareto([(o.attainment, o.monthly_usd) for o in self.options])

    @property
    def recommended(self) -> int:
        """The cheapest option that meets the goal; none does: the plan's own (the first)."""
        best = cheapest(self.options, self.goal)
        return 0 if best is None else best

    def summary(self) -> str:
        """What the goal costs, against the cheapest option."""
        low = self.options[cheapest(self.options) or 0]
        reach = cheapest(self.options, self.goal)
        goal = f"{self.goal:.0%}"
        if reach is None:
            best_attainment = max(o.attainment for o in self.options)
            return f"no option tried reaches {goal} (the best gets {best_attainment:.2%})"
        best = self.options[reach]
        if low.attainment >= self.goal:
            return f"the cheapest option, {low.name}, reaches {goal}"
        extra = best.monthly_usd - low.monthly_usd
        return (
            f"the cheapest option, {low.name}, gets {low.attainment:.2%}: {goal} costs "
            f"${best.monthly_usd:,.2f} a month with {best.name} (${extra:,.2f} more)"
        )

    def as_dict(self) -> dict[str, Any]:
        marks, chosen = self.on_frontier, self.recommended
        reach = cheapest(self.options, self.goal)
        return {
            "hours_per_month": HOURS_PER_MONTH,
            "goal": self.goal,
            "warm_boot_seconds": self.warm_boot_s,
            "warm_boot_assumed": self.warm_boot_assumed,
            "options": [
                {
                    "name": o.name,
                    "parameters": o.parameters,
                    "slo_attainment": round(o.attainment, 6),
                    "monthly_usd": round(o.monthly_usd, 2),
                    "price": o.price.name,
                    "price_per_hour": o.price.per_hour,
                    "on_frontier": marks[i],
                    "meets_goal": o.attainment >= self.goal,
                    "recommended": i == chosen,
                }
                for i, o in enumerate(self.options)
            ],
            "recommended": self.options[chosen].name,
            "goal_option": None if reach is None else self.options[reach].name,
            "goal_monthly_usd": None if reach is None else round(self.options[reach].monthly_usd, 2),
            "summary": self.summary(),
            "notes": self.notes,
        }

    def render(self) -> list[str]:
        marks, chosen = self.on_frontier, self.recommended
        width = max(len(o.name) for o in self.options)
        out = [
            f"against cold starts (simulated, {HOURS_PER_MONTH:g} h a month at the price each deploys with;"
            " * = on the cost/attainment frontier):",
            f"     {'option':<{width}}  {'in SLO':>8}  {'a month':>11}  price",
        ]
        for i, o in enumerate(self.options):
            tail = "  <- recommended" if i == chosen else ""
            out.append(
                f"  {'*' if marks[i] else ' '}  {o.name:<{width}}  {o.attainment:>8.2%}  "
                f"{f'${o.monthly_usd:,.2f}':>11}  {o.price.name} ${o.price.per_hour:.4f}/h{tail}"
            )
        out.append(f"  {self.summary()}")
        return out + [f"  {note}" for note in self.notes]


def _warm_boot(found: Plan, warm_boot_s: float | None) -> tuple[float | None, bool, list[str]]:
    """The warm start to try pools with (None: no pool), whether it is assumed, and why not."""
    request = found.request
    if not model_platform(request.platform).warm_pool:
        return None, False, []
    boot = DEFAULT_WARM_BOOT_S if warm_boot_s is None else warm_boot_s
    if boot >= request.boot_s:
        return (
            None,
            warm_boot_s is None,
            [
                f"no warm pool tried: a warm start of {boot:g} s (assumed; --warm-boot-seconds) is no shorter"
                f" than the boot of {request.boot_s:g} s"
            ],
        )
    if warm_boot_s is None:
        return (
            boot,
            True,
            [
                f"a start from the warm pool is assumed to take {boot:g} s: measure yours and pass"
                " --warm-boot-seconds"
            ],
        )
    return boot, False, []


def explore(
    found: Plan,
    trace: Trace,
    *,
    warm_boot_s: float | None = None,
    given_size: int = 0,
    price_per_hour: float | None = None,
    volume_gb: float = ROOT_VOLUME_GB,
    ebs_usd_per_gb_month: float = GP3_USD_PER_GB_MONTH,
) -> Frontier:
    """The plan and its alternatives against cold starts, simulated at the plan's capacity and target."""
    request, workload = found.request, found.workload
    prices = prices_for(request.platform, price_per_hour)
    # Without a pool: what the template's defaults buy (EC2 Spot, ECS Fargate); a pool needs
    # On-Demand. --price-per-hour: the one price.
    plain = prices[0] if price_per_hour is not None else default_price(request.platform)
    on_demand = prices[0]

    def option(keep_warm: bool, minutes: int, pool: WarmPoolSettings | None = None) -> Option:
        fleet = request.fleet(found.max_capacity, minutes, keep_warm)
        result = run_simulation(trace, "tuned", fleet, found.initial_target, request.realism, warm_pool=pool)
        return _priced(keep_warm, minutes, pool, result, plain if pool is None else on_demand)

    options = [_priced(found.keeps_warm, found.idle_minutes, None, found.result, plain)]
    other = not found.keeps_warm
    full = gaps_of(trace, request, request.boot_s)
    options.append(option(other, derive_hold(full, workload, request, other, request.boot_s).minutes))

    warm, assumed, notes = _warm_boot(found, warm_boot_s)
    if warm is not None:
        gaps = gaps_of(trace, request, warm)
        # A start from the pool bills the warm start and, for its replacement, a full boot.
        minutes = derive_hold(gaps, workload, request, False, warm + request.boot_s).minutes
        bursts = idle_gaps.burst_instances(
            trace.arrival_s, trace.processing_s, full.starts, workload.window_s, request.concurrency
        )
        # A burst takes at most MaxCapacity at once; the starts within one refill may take more in turn.
        bursts = [min(burst, found.max_capacity) for burst in bursts]
        demand = idle_gaps.refill_demand(full.starts, bursts, request.boot_s)
        for size in idle_gaps.pool_sizes(bursts, MAX_POOL_SIZE, given_size, demand):
            pool = WarmPoolSettings(size, warm, volume_gb, ebs_usd_per_gb_month)
            options.append(option(False, minutes, pool))
    if warm is not None and plain is not on_demand:
        notes.append(
            f"a warm pool needs On-Demand, the others run Spot ({plain.what}); "
            "--price-per-hour compares them all at one price"
        )
    return Frontier(options, request.goal, warm, assumed, notes)


def _priced(
    keep_warm: bool, minutes: int, pool: WarmPoolSettings | None, result: SimResult, price: Price
) -> Option:
    usd = monthly_fleet_usd(result, price.per_hour)
    if pool is not None:
        usd += pool_usd_per_month(result, pool, price.per_hour)
    return Option(keep_warm, minutes, pool, result, price, usd)


def adopt(found: Plan, frontier: Frontier) -> Plan:
    """The plan with the recommended option's parameters and prediction."""
    chosen = frontier.options[frontier.recommended]
    if frontier.recommended == 0:
        return found
    return dataclasses.replace(
        found,
        keep_warm=chosen.keep_warm,
        idle_minutes=chosen.idle_minutes,
        warm_pool=chosen.pool,
        result=chosen.result,
        why_not=[],  # it meets the goal: the recommended option is the cheapest that does
    )
