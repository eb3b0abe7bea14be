"""Hourly prices of one instance or task, and the monthly cost of a fleet at those prices.

A small dated table, not the Price List API: the planner runs offline, and a user with other
prices (region, instance type, Savings Plans) passes ``--price-per-hour``.
"""

from __future__ import annotations

from dataclasses import dataclass

from qas.model.control_plane import Platform

PRICES_AS_OF = "2026-12, us-east-1, Linux x86_64"
HOURS_PER_MONTH = 730.0  # AWS's own convention in its pricing calculator
MAX_PRICE_PER_HOUR = 1000.0  # USD: a typo guard, far above any one instance or task

# Fargate: $0.04048 per vCPU-hour and $0.004445 per GB-hour On-Demand (aws.amazon.com/fargate/pricing);
# Fargate Spot is about 70% less. The task size is the template's default (TaskCpu 512, TaskMemory 1024).
_TASK_VCPU, _TASK_GB = 0.5, 1.0
_FARGATE = _TASK_VCPU * 0.04048 + _TASK_GB * 0.004445
_FARGATE_SPOT = _TASK_VCPU * 0.01264791 + _TASK_GB * 0.00138883


@dataclass(frozen=True)
class Price:
    name: str
    per_hour: float
    what: str


PRICES: dict[Platform, tuple[Price, ...]] = {
    # c6i.large, the first of the template's InstanceTypes. Spot varies by hour and AZ: a typical
    # price-capacity-optimized price, about 60% below On-Demand.
    Platform.EC2: (
        Price("on_demand", 0.085, "EC2 On-Demand c6i.large"),
        Price("spot", 0.034, "EC2 Spot c6i.large (typical; varies)"),
    ),
    Platform.ECS: (
        Price("fargate", round(_FARGATE, 6), "Fargate 0.5 vCPU / 1 GB"),
        Price("fargate_spot", round(_FARGATE_SPOT, 6), "Fargate Spot 0.5 vCPU / 1 GB"),
    ),
}


# Which of PRICES the template's defaults buy: EC2 runs Spot (OnDemandPercentage 0), ECS Fargate
# (UseFargateSpot false).
DEFAULT_PRICE: dict[Platform, str] = {Platform.EC2: "spot", Platform.ECS: "fargate"}


def default_price(platform: Platform) -> Price:
    return next(p for p in PRICES[platform] if p.name == DEFAULT_PRICE[platform])


def prices_for(platform: Platform, custom_per_hour: float | None) -> tuple[Price, ...]:
    if custom_per_hour is not None:
        if not 0 < custom_per_hour <= MAX_PRICE_PER_HOUR:  # False for NaN too
            raise ValueError(
                f"--price-per-hour must be > 0 and <= {MAX_PRICE_PER_HOUR:g}, got {custom_per_hour!r}"
            )
        return (Price("custom", custom_per_hour, "--price-per-hour"),)
    return PRICES[platform]


@dataclass(frozen=True)
class MonthlyCost:
    price: Price
    autoscaled_usd: float  # the simulated average fleet, all month
    always_on_usd: float  # the peak fleet running all month

    def as_dict(self) -> dict[str, object]:
        return {
            "price_per_hour": self.price.per_hour,
            "what": self.price.what,
            "autoscaled": round(self.autoscaled_usd, 2),
            "always_on_at_peak": round(self.always_on_usd, 2),
        }


def monthly_costs(
    average_instances: float, peak_instances: int, prices: tuple[Price, ...]
) -> list[MonthlyCost]:
    return [
        MonthlyCost(
            price,
            average_instances * HOURS_PER_MONTH * price.per_hour,
            peak_instances * HOURS_PER_MONTH * price.per_hour,
        )
        for price in prices
    ]
