"""`qas plan --warm-pool N --warm-boot-seconds S`: the pool's monthly EBS in dollars, and whether it
pays, from the simulator with and without it at the recommended parameters."""

from __future__ import annotations

import json

import pytest

from qas import cli
from qas.model.control_plane import Platform
from qas.plan.prices import HOURS_PER_MONTH, PRICES
from qas.plan.warm_pool import WarmPoolVerdict
from qas.sim.results import SimResult
from qas.sim.warm_pool import GP3_USD_PER_GB_MONTH, ROOT_VOLUME_GB, WarmPoolSettings, WarmPoolUsage

STEADY = ["plan", "--rate-per-minute", "6", "--duration-seconds", "60", "--slo-seconds", "300"]
STEADY += ["--boot-seconds", "240", "--concurrency", "1", "--hours", "3"]
POOL = ["--warm-pool", "2", "--warm-boot-seconds", "30"]
MONTH_S = HOURS_PER_MONTH * 3600


def _result(attainment: float, instance_seconds: float, refill_s: float | None = None) -> SimResult:
    usage = None if refill_s is None else WarmPoolUsage(1, 1, 0, 0.0, refill_s, 0.0)
    return SimResult(
        messages=100, completed=100, lost=0, slo_attainment=attainment, latency_p50_s=1, latency_p95_s=1,
        latency_p99_s=1, instance_seconds=instance_seconds, work_seconds=1, cost_ratio=1, scale_actions=0,
        peak_capacity=1, redeliveries=0, simulated_s=MONTH_S, warm_pool=usage,
    )  # fmt: skip


def _verdict(without: SimResult, with_pool: SimResult) -> WarmPoolVerdict:
    settings = WarmPoolSettings(size=2, warm_boot_s=30)
    return WarmPoolVerdict(settings, PRICES[Platform.EC2][0], without, with_pool, goal=0.99)


def test_the_monthly_cost_is_the_fleet_the_volumes_and_the_refills() -> None:
    # A month simulated: 100 instance-hours without, 90 with, and 10 hours of refill boots
    verdict = _verdict(_result(0.95, 100 * 3600.0), _result(0.995, 90 * 3600.0, refill_s=10 * 3600.0))
    price = PRICES[Platform.EC2][0].per_hour
    assert verdict.ebs_usd_per_month == pytest.approx(2 * ROOT_VOLUME_GB * GP3_USD_PER_GB_MONTH)
    assert verdict.refill_usd_per_month == pytest.approx(10 * price)
    assert verdict.monthly_without_usd == pytest.approx(100 * price)
    assert verdict.monthly_with_usd == pytest.approx(100 * price + verdict.ebs_usd_per_month)
    # More in time, but the volumes make it dearer: it pays because it reaches the missed goal
    assert verdict.pays and verdict.why.startswith("it reaches the goal (99.50% vs 95.00% without)")


@pytest.mark.parametrize(
    ("without", "with_pool", "pays", "why"),
    [
        ((0.95, 100), (0.96, 30), True, "as many or more messages in time"),
        ((0.995, 100), (0.999, 100), False, "not needed: the goal is met without it"),
        ((0.90, 100), (0.95, 100), False, "it misses the goal too"),
        ((0.95, 100), (0.94, 50), False, "it misses the goal too"),
    ],
)
def test_it_pays_when_it_is_cheaper_and_as_good_or_reaches_the_goal(
    without: tuple[float, float], with_pool: tuple[float, float], pays: bool, why: str
) -> None:
    verdict = _verdict(
        _result(without[0], without[1] * 3600.0), _result(with_pool[0], with_pool[1] * 3600.0, refill_s=0.0)
    )
    assert verdict.pays is pays
    assert verdict.why.startswith(why)


def test_plan_prints_the_pool_with_and_without(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*STEADY, *POOL, "--json"]) in (0, 1)
    data = json.loads(capsys.readouterr().out)
    pool = data["warm_pool"]
    assert pool["ebs_usd_per_month"] == round(2 * ROOT_VOLUME_GB * GP3_USD_PER_GB_MONTH, 2)
    # Without: the plan before the frontier's choice (its first option)
    assert pool["without"]["slo_attainment"] == data["frontier"]["options"][0]["slo_attainment"]
    assert pool["warm_starts"] >= 1
    assert pool["parameter_overrides"] == {
        "WarmPool": "Stopped",
        "WarmPoolSize": "2",
        "OnDemandPercentage": "100",
    }
    assert cli.main([*STEADY, "--json"]) in (0, 1)
    assert "warm_pool" not in json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--platform", "ECS", *POOL], "--warm-pool is EC2 only"),
        (["--warm-pool", "2"], "--warm-pool needs --warm-boot-seconds"),
        (["--warm-pool", "2", "--warm-boot-seconds", "240"], "must be below --boot-seconds"),
    ],
)
def test_bad_pool_flags_are_named_and_exit_2(
    capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert cli.main([*STEADY, *extra]) == 2
    assert message in capsys.readouterr().err
