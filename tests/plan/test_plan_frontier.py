"""`qas plan` against cold starts: KeepWarm and warm pools simulated and priced, the frontier marked,
and a warm pool recommended only where it pays. Traces small enough to check by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qas import cli
from qas.model.control_plane import Platform
from qas.plan.frontier import DEFAULT_WARM_BOOT_S, Frontier, Option, adopt, explore, pareto
from qas.plan.prices import PRICES
from qas.plan.recommend import PlanRequest, plan
from qas.sim.results import SimResult
from qas.sim.traces import Trace, write_csv

# One 10 s message every 30 minutes for 6 hours; boot 240 s, so a cold start (60 s alarm + boot)
# takes 300 s. Each message is alone: every one is a cold start unless something is kept.
TRICKLE = Trace(tuple(1800.0 * i for i in range(12)), (10.0,) * 12)


def _request(slo_s: float) -> PlanRequest:
    return PlanRequest(slo_s=slo_s, boot_s=240, concurrency=1, realism="ideal")


def test_a_warm_pool_pays_where_nothing_else_reaches_the_goal() -> None:
    # SLO 200 s: a cold start (300 s) misses every message it serves, so one instance stays warm
    # (KeepWarm) and the gaps (1790 s) call for a 30-minute hold: always on, but the first message of
    # the trace still starts cold: 11 of 12 in time. A pool (full from the start) serves even that one
    # in 60 + 30 + 10 s.
    base = plan(TRICKLE, _request(200))
    assert base.keeps_warm and base.hold is not None
    assert base.hold.derived.minutes == 30 and base.hold.derived.bridged == 11
    assert base.result.slo_attainment == pytest.approx(11 / 12)
    frontier = explore(base, TRICKLE)
    chosen = frontier.options[frontier.recommended]
    assert chosen.pool is not None and chosen.attainment == 1.0
    assert not any(o.attainment >= 0.99 for o in frontier.options if o.pool is None)
    found = adopt(base, frontier)
    assert found.reachable and found.warm_pool == chosen.pool
    overrides = found.parameter_overrides
    assert overrides["WarmPool"] == "Stopped" and overrides["WarmPoolSize"] == str(chosen.pool.size)
    assert overrides["OnDemandPercentage"] == "100" and overrides["KeepWarm"] == "false"
    assert chosen.price == PRICES[Platform.EC2][0]  # On-Demand: a pool refuses Spot
    assert frontier.warm_boot_s == DEFAULT_WARM_BOOT_S and frontier.warm_boot_assumed
    assert "costs" in frontier.summary() and chosen.name in frontier.summary()


def test_a_warm_pool_does_not_pay_where_a_cold_start_fits_the_slo() -> None:
    # SLO 3600 s: a cold start is in time, so the fleet goes to zero between messages; the gaps call
    # for the shortest hold (1 minute), and a pool would add On-Demand prices, volumes and refills.
    base = plan(TRICKLE, _request(3600))
    assert not base.keeps_warm and base.hold is not None and base.hold.derived.minutes == 1
    assert base.result.slo_attainment == 1.0
    frontier = explore(base, TRICKLE)
    pools = [o for o in frontier.options if o.pool is not None]
    assert pools and all(o.attainment == 1.0 for o in pools)  # as good, dearer
    chosen = frontier.options[frontier.recommended]
    assert chosen.pool is None
    assert all(o.monthly_usd > chosen.monthly_usd for o in pools)
    assert frontier.summary().startswith(f"the cheapest option, {chosen.name}, reaches 99%")
    assert "WarmPool" not in adopt(base, frontier).parameter_overrides


def test_the_derived_hold_is_kept_only_when_the_simulation_agrees() -> None:
    base = plan(TRICKLE, _request(3600))
    assert base.hold is not None
    default, derived = base.hold.default_minutes, base.hold.derived.minutes
    by_idle = {t.idle_minutes: t for t in base.trials if t.max_capacity == base.max_capacity}
    assert {default, derived} <= set(by_idle)  # both simulated
    agrees = (
        by_idle[derived].slo_attainment >= 0.99 and by_idle[derived].cost_ratio < by_idle[default].cost_ratio
    )
    assert base.hold.adopted is agrees
    assert base.idle_minutes == (derived if agrees else default)


def _option(attainment: float, usd: float) -> Option:
    result = SimResult(
        messages=1, completed=1, lost=0, slo_attainment=attainment, latency_p50_s=1, latency_p95_s=1,
        latency_p99_s=1, instance_seconds=1, work_seconds=1, cost_ratio=1, scale_actions=0,
        peak_capacity=1, redeliveries=0, simulated_s=1,
    )  # fmt: skip
    return Option(False, 5, None, result, PRICES[Platform.EC2][1], usd)


def test_the_frontier_marks_the_options_no_other_beats() -> None:
    assert pareto([(0.99, 100), (0.995, 120), (0.98, 110), (0.99, 100), (0.999, 119)]) == [
        True,  # the cheapest
        False,  # 0.999 for 119 beats it
        False,  # 0.99 for 100 beats it
        True,  # equal to the first
        True,
    ]
    frontier = Frontier([_option(0.97, 50), _option(0.995, 80), _option(0.999, 200)], 0.99, None, False)
    assert frontier.on_frontier == [True, True, True]
    assert frontier.recommended == 1
    assert frontier.summary().endswith(
        "99% costs $80.00 a month with scale to zero (ShutdownAfterMinutes=5) ($30.00 more)"
    )
    short = Frontier([_option(0.97, 50), _option(0.98, 40)], 0.99, None, False)
    assert short.on_frontier == [False, True] and short.recommended == 0
    assert short.summary() == "no option tried reaches 99% (the best gets 98.00%)"


def _trace_file(tmp_path: Path) -> str:
    path = tmp_path / "trickle.csv"
    write_csv(TRICKLE, path)
    return str(path)


def test_json_has_the_frontier_and_the_text_its_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["plan", "--trace", _trace_file(tmp_path), "--slo-seconds", "200", "--boot-seconds", "240"]
    argv += ["--concurrency", "1", "--realism", "ideal", "--warm-boot-seconds", "20"]
    assert cli.main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    frontier = data["frontier"]
    assert frontier.keys() == {
        "hours_per_month", "goal", "warm_boot_seconds", "warm_boot_assumed", "options", "recommended",
        "goal_option", "goal_monthly_usd", "summary", "notes",
    }  # fmt: skip
    assert frontier["warm_boot_seconds"] == 20 and not frontier["warm_boot_assumed"]
    option_keys = {
        "name", "parameters", "slo_attainment", "monthly_usd", "price", "price_per_hour", "on_frontier",
        "meets_goal", "recommended",
    }  # fmt: skip
    assert all(o.keys() == option_keys for o in frontier["options"])
    (chosen,) = (o for o in frontier["options"] if o["recommended"])
    assert chosen["name"] == frontier["recommended"] == frontier["goal_option"]
    assert chosen["parameters"].items() <= data["parameter_overrides"].items()
    assert data["idle_hold"]["derived_minutes"] == 30
    assert set(data["monthly_cost_usd"]) == {"on_demand"}  # a pool: On-Demand only

    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    assert "against cold starts" in text and "<- recommended" in text
    assert f"  *  {chosen['name']}" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--platform", "ECS", "--warm-boot-seconds", "20"], "--warm-boot-seconds is EC2 only"),
        (["--warm-boot-seconds", "240"], "--warm-boot-seconds 240 must be below --boot-seconds 240"),
        (["--warm-boot-seconds", "-1"], "argument --warm-boot-seconds"),
    ],
)
def test_bad_warm_start_flags_are_named_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    argv = ["plan", "--trace", _trace_file(tmp_path), "--slo-seconds", "200", "--boot-seconds", "240"]
    assert cli.main([*argv, "--concurrency", "1", *extra]) == 2
    assert message in capsys.readouterr().err
