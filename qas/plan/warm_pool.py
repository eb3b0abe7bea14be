"""`qas plan --warm-pool N --warm-boot-seconds S`: what an EC2 warm pool costs a month and whether it
pays on the user's load, by the simulator with and without it at the recommended parameters.

A warm pool needs On-Demand instances (the template's Rules refuse Spot with it), so both runs are
priced at the On-Demand (or `--price-per-hour`) price: the comparison is the pool's, not Spot's.
Monthly dollars scale the simulated span to a 730-hour month.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qas.model.control_plane import Platform
from qas.model.platforms import model_platform
from qas.plan.prices import HOURS_PER_MONTH, Price, prices_for
from qas.plan.recommend import Plan, run_simulation
from qas.sim.results import SimResult
from qas.sim.traces import Trace
from qas.sim.warm_pool import WarmPoolSettings

_MONTH_S = HOURS_PER_MONTH * 3600.0


def monthly_fleet_usd(result: SimResult, per_hour: float) -> float:
    """The simulated fleet's instance-hours, scaled from the simulated span to a month."""
    return result.instance_seconds / 3600.0 * per_hour * _MONTH_S / max(result.simulated_s, 1.0)


def ebs_usd_per_month(settings: WarmPoolSettings) -> float:
    """The stopped instances' volumes, all month (the pool is full but for its refills)."""
    return settings.size * settings.volume_gb * settings.ebs_usd_per_gb_month


def refill_usd_per_month(result: SimResult, per_hour: float) -> float:
    """The replacements' boots, at the instance's price, scaled to a month (0 without a pool)."""
    usage = result.warm_pool
    if usage is None:
        return 0.0
    return usage.refill_instance_seconds / 3600.0 * per_hour * _MONTH_S / max(result.simulated_s, 1.0)


def pool_usd_per_month(result: SimResult, settings: WarmPoolSettings, per_hour: float) -> float:
    """What a pool adds to the fleet's own instance-hours: its volumes and its refills."""
    return ebs_usd_per_month(settings) + refill_usd_per_month(result, per_hour)


@dataclass(frozen=True)
class WarmPoolVerdict:
    settings: WarmPoolSettings
    price: Price
    without: SimResult
    with_pool: SimResult
    goal: float

    @property
    def ebs_usd_per_month(self) -> float:
        return ebs_usd_per_month(self.settings)

    @property
    def refill_usd_per_month(self) -> float:
        return refill_usd_per_month(self.with_pool, self.price.per_hour)

    @property
    def monthly_without_usd(self) -> float:
        return monthly_fleet_usd(self.without, self.price.per_hour)

    @property
    def monthly_with_usd(self) -> float:
        per_hour = self.price.per_hour
        return monthly_fleet_usd(self.with_pool, per_hour) + pool_usd_per_month(
            self.with_pool, self.settings, per_hour
        )

    @property
    def _cheaper_and_as_good(self) -> bool:
        return (
            self.with_pool.slo_attainment >= self.without.slo_attainment
            and self.monthly_with_usd <= self.monthly_without_usd
        )

    @property
    def _reaches_what_it_misses(self) -> bool:
        return self.with_pool.slo_attainment >= self.goal > self.without.slo_attainment

    @property
    def pays(self) -> bool:
        """At least as many messages in time for less, or the goal reached that is missed without it."""
        return self._cheaper_and_as_good or self._reaches_what_it_misses

    @property
    def why(self) -> str:
        extra = self.monthly_with_usd - self.monthly_without_usd
        gain = f"({self.with_pool.slo_attainment:.2%} vs {self.without.slo_attainment:.2%} without)"
        if self._cheaper_and_as_good:
            return f"as many or more messages in time {gain} for ${-extra:,.2f} less a month (shorter runs)"
        if self._reaches_what_it_misses:
            return f"it reaches the goal {gain} for ${extra:,.2f} more a month"
        if self.without.slo_attainment >= self.goal:
            return f"not needed: the goal is met without it {gain}; it would add ${extra:,.2f} a month"
        return f"it misses the goal too {gain} and adds ${extra:,.2f} a month"

    def as_dict(self) -> dict[str, Any]:
        usage = self.with_pool.warm_pool
        assert usage is not None
        return {
            "size": self.settings.size,
            "warm_boot_seconds": self.settings.warm_boot_s,
            "price_per_hour": self.price.per_hour,
            "ebs_usd_per_month": round(self.ebs_usd_per_month, 2),
            "refill_usd_per_month": round(self.refill_usd_per_month, 2),
            "warm_starts": usage.warm_starts,
            "cold_starts": usage.cold_starts,
            "without": {
                "slo_attainment": round(self.without.slo_attainment, 6),
                "latency_p99_s": round(self.without.latency_p99_s, 1),
                "monthly_usd": round(self.monthly_without_usd, 2),
            },
            "with": {
                "slo_attainment": round(self.with_pool.slo_attainment, 6),
                "latency_p99_s": round(self.with_pool.latency_p99_s, 1),
                "monthly_usd": round(self.monthly_with_usd, 2),
            },
            "pays": self.pays,
            "why": self.why,
            "parameter_overrides": {
                "WarmPool": "Stopped",
                "WarmPoolSize": str(self.settings.size),
                "OnDemandPercentage": "100",
            },
        }

    def render(self) -> list[str]:
        d = self.as_dict()

        def line(label: str, run: dict[str, Any]) -> str:
            return (
                f"  {label:<8} {run['slo_attainment']:.2%} within the SLO, p99 {run['latency_p99_s']:g} s,"
                f" ${run['monthly_usd']:,.2f} a month"
            )

        return [
            f"warm pool of {d['size']} (start {d['warm_boot_seconds']:g} s;"
            f" On-Demand ${d['price_per_hour']:.4f}/h): EBS ${d['ebs_usd_per_month']:,.2f} a month"
            f" + refills ${d['refill_usd_per_month']:,.2f}",
            line("without:", d["without"]),
            line("with:", d["with"]),
            f"  {'PAYS' if d['pays'] else 'does not pay'}: {d['why']}",
        ]


def check(platform: Platform) -> None:
    """Before any simulation: a pool on ECS is a usage error."""
    if not model_platform(platform).warm_pool:
        raise ValueError("--warm-pool is EC2 only: a warm pool is an EC2 Auto Scaling feature (ECS has none)")


def assess(
    found: Plan, trace: Trace, settings: WarmPoolSettings, price_per_hour: float | None
) -> WarmPoolVerdict:
    """The recommended fleet simulated without and with the pool (the planner's realism and target)."""
    request = found.request
    check(request.platform)
    fleet = found.fleet
    with_pool = run_simulation(
        trace, "tuned", fleet, found.initial_target, request.realism, warm_pool=settings
    )
    (price, *_) = prices_for(request.platform, price_per_hour)  # On-Demand first: a pool needs it
    return WarmPoolVerdict(settings, price, found.result, with_pool, request.goal)
