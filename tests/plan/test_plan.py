"""`qas plan` from a trace or a steady load: its recommendation, simulated again, meets the SLO on
the benchmark's scenarios; out-of-reach workloads say why and what would make them reachable."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from qas import cli
from qas.model.control_plane import Platform
from qas.plan import workloads
from qas.plan.cli import samconfig_block
from qas.plan.prices import HOURS_PER_MONTH
from qas.plan.recommend import PlanRequest, describe, plan
from qas.sim.bench import SCENARIOS, SLO_GOAL
from qas.sim.policies import SimFleet
from qas.sim.realism import preset
from qas.sim.runner import simulate
from qas.sim.traces import write_csv
from queue_autoscaler.scaling.policy_spec import POLICY
from queue_autoscaler.scaling.target import Action, TargetModel, decide_target

# Half-length traces keep the test fast; the change of processing time (duration-shift) then weighs
# twice as much as in the benchmark, and still passes.
SCALE = 0.5
# Under the aws realism the start from zero of steady-tight's half-length trace holds 98.5%: the whole
# trace, as the benchmark runs it.
SCALES = {"steady-tight": 1.0}
# qas plan sizes standard queues; FIFO traces (a group column) are not planned yet.
REACHABLE = [name for name in SCENARIOS if name != "overload" and SCENARIOS[name].trace(0.1).group is None]


def _request(name: str, limit: int | None = None) -> PlanRequest:
    fleet = SCENARIOS[name].fleet
    return PlanRequest(fleet.slo_s, fleet.boot_s, fleet.concurrency, fleet.platform, limit)


@pytest.mark.parametrize("name", REACHABLE)
def test_the_recommendation_simulated_again_meets_the_slo(name: str) -> None:
    trace = SCENARIOS[name].trace(SCALES.get(name, SCALE))
    found = plan(trace, _request(name))
    assert found.reachable, found.why_not

    # Simulate the printed parameters from scratch, as a user would deploy them.
    overrides = found.parameter_overrides
    fleet = SimFleet(
        slo_s=float(overrides["LatencySloSeconds"]),
        max_capacity=int(overrides["MaxCapacity"]),
        boot_s=SCENARIOS[name].fleet.boot_s,
        concurrency=int(overrides["WorkerConcurrency"]),
        platform=Platform(overrides["WorkerPlatform"]),
        shutdown_minutes=int(overrides["ShutdownAfterMinutes"]),
        keep_warm=overrides["KeepWarm"] == "true",
        keep_warm_minutes=int(overrides.get("KeepWarmMinutes", POLICY.keep_warm_minutes)),
    )
    realism = preset(found.request.realism, fleet.period_s)  # the planner predicts under "aws"
    again = simulate(trace, "tuned", fleet, initial_target=float(overrides["InitialTarget"]), realism=realism)
    assert again.lost == 0
    assert again.slo_attainment >= SLO_GOAL
    assert again.slo_attainment == found.result.slo_attainment  # the prediction is this simulation
    assert fleet.target_model().capacity_lead_s == float(overrides["CapacityLeadSeconds"])


@pytest.mark.parametrize("name", ["steady", "heavy-tail", "trickle"])
def test_initial_target_is_what_the_tuner_would_keep(name: str) -> None:
    """The tuner, given the trace's durations and the recommended settings, keeps InitialTarget."""
    trace = SCENARIOS[name].trace(SCALE)
    request = _request(name)
    found = plan(trace, request)
    overrides = found.parameter_overrides
    model = TargetModel(
        latency_slo_s=float(overrides["LatencySloSeconds"]),
        concurrency=int(overrides["WorkerConcurrency"]),
        capacity_lead_s=float(overrides["CapacityLeadSeconds"]),
    )
    decision = decide_target(float(overrides["InitialTarget"]), describe(trace, request).stats, model)
    assert decision.action is Action.KEEP, decision


def test_overload_beyond_max_capacity_is_out_of_reach_and_says_why(capsys, tmp_path: Path) -> None:
    scenario = SCENARIOS["overload"]
    trace = scenario.trace(1.0)
    found = plan(trace, _request("overload", limit=scenario.fleet.max_capacity))
    assert not found.reachable
    assert found.max_capacity == scenario.fleet.max_capacity
    (reason,) = found.why_not
    assert "MaxCapacity 20 (your limit) cannot serve the load" in reason
    assert f"{found.reference.slo_attainment:.1%}" in reason
    assert "higher MaxCapacity" in reason

    # Without the limit, the planner finds the capacity that serves it.
    unlimited = plan(trace, _request("overload"))
    assert unlimited.reachable
    assert unlimited.max_capacity > 20 * 5
    assert unlimited.result.slo_attainment >= SLO_GOAL

    path = tmp_path / "overload.csv"
    write_csv(trace, path)
    argv = ["plan", "--trace", str(path), "--slo-seconds", "600", "--boot-seconds", "90"]
    code = cli.main([*argv, "--concurrency", "4", "--max-capacity", "20"])
    out = capsys.readouterr().out
    assert code == 1
    assert "SLO OUT OF REACH" in out and "not a recommendation" in out


def test_jobs_longer_than_the_slo_are_out_of_reach_until_the_suggested_slo() -> None:
    trace = workloads.steady(6, 400, sigma=0, hours=2)
    found = plan(trace, PlanRequest(slo_s=300, boot_s=60, concurrency=1))
    assert not found.reachable
    reason = found.why_not[0]
    assert "100.0% of the jobs take longer than the SLO of 300 s" in reason
    suggested = int(reason.split("LatencySloSeconds of at least ")[1].split(" s")[0])
    assert suggested == 400 + 60 + 180
    assert plan(trace, PlanRequest(slo_s=suggested, boot_s=60, concurrency=1)).reachable


def test_json_contract_and_a_samconfig_block_that_parses(capsys) -> None:
    argv = ["plan", "--rate-per-minute", "30", "--duration-seconds", "20", "--hours", "2"]
    argv += ["--slo-seconds", "300", "--boot-seconds", "60", "--concurrency", "2"]
    assert cli.main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data.keys() >= {"max_capacity", "initial_target", "parameter_overrides", "predicted"}
    assert data["predicted"].keys() >= {"slo_attainment", "cost_ratio"}
    assert data["predicted"]["slo_attainment"] >= SLO_GOAL
    overrides = data["parameter_overrides"]
    assert overrides["MaxCapacity"] == str(data["max_capacity"])
    assert overrides["InitialTarget"] == str(data["initial_target"])
    assert set(overrides) >= {"MaxCapacity", "InitialTarget", "CapacityLeadSeconds", "ShutdownAfterMinutes"}
    assert set(data["monthly_cost_usd"]) == {"on_demand", "spot"}
    on_demand = data["monthly_cost_usd"]["on_demand"]
    assert on_demand["autoscaled"] < on_demand["always_on_at_peak"]

    # The text output's block is valid samconfig.toml with the same parameters.
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    block = samconfig_block(overrides)
    assert block in text
    parsed = tomllib.loads(block)["default"]["deploy"]["parameters"]["parameter_overrides"]
    assert parsed == [f"{key}={value}" for key, value in overrides.items()]


def test_price_override_and_fargate_prices(capsys) -> None:
    argv = ["plan", "--rate-per-minute", "30", "--duration-seconds", "20", "--hours", "2"]
    argv += ["--slo-seconds", "300", "--boot-seconds", "60", "--concurrency", "2", "--json"]
    assert cli.main([*argv, "--price-per-hour", "1.0"]) == 0
    data = json.loads(capsys.readouterr().out)
    (custom,) = data["monthly_cost_usd"].values()
    fleet = data["predicted"]["average_instances"] * HOURS_PER_MONTH
    (chosen,) = (o for o in data["frontier"]["options"] if o["recommended"])
    assert {o["price_per_hour"] for o in data["frontier"]["options"]} == {1.0}
    # The recommended option's month: its fleet, and with a warm pool its volumes and refills too
    assert custom["autoscaled"] == pytest.approx(chosen["monthly_usd"], abs=0.02)
    pooled = "WarmPool" in data["parameter_overrides"]
    assert custom["autoscaled"] == pytest.approx(fleet, abs=1.0) or (pooled and custom["autoscaled"] > fleet)
    assert custom["always_on_at_peak"] == data["predicted"]["peak_capacity"] * HOURS_PER_MONTH
    assert cli.main([*argv, "--platform", "ECS"]) == 0
    ecs = json.loads(capsys.readouterr().out)
    assert set(ecs["monthly_cost_usd"]) == {"fargate", "fargate_spot"}
    assert ecs["parameter_overrides"]["WorkerPlatform"] == "ECS"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rate-per-minute", "30"], "--rate-per-minute needs --duration-seconds"),
        (
            ["--rate-per-minute", "0", "--duration-seconds", "5"],
            "argument --rate-per-minute: must be a number > 0",
        ),
        (["--rate-per-minute", "3", "--duration-seconds", "5", "--concurrency", "1"], "--slo-seconds"),
        (["--trace", "/nonexistent.csv", "--slo-seconds", "1", "--boot-seconds", "1"], "nonexistent"),
    ],
)
def test_bad_input_names_the_setting(argv: list[str], message: str, capsys) -> None:
    assert cli.main(["plan", *argv, "--boot-seconds", "1"]) == 2
    assert message in capsys.readouterr().err


def test_a_long_cold_start_plans_keep_warm_and_its_minutes(capsys) -> None:
    # A 320 s boot against a 600 s SLO: a cold start takes 63% of it, so one instance stays warm and
    # the searched idle time is KeepWarmMinutes; ShutdownAfterMinutes stays the template's default.
    argv = ["plan", "--rate-per-minute", "4", "--duration-seconds", "30", "--hours", "6"]
    argv += ["--slo-seconds", "600", "--boot-seconds", "320", "--concurrency", "1", "--json"]
    assert cli.main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    overrides = data["parameter_overrides"]
    assert overrides["KeepWarm"] == "true"
    assert int(overrides["KeepWarmMinutes"]) == data["keep_warm_minutes"]
    assert overrides["ShutdownAfterMinutes"] == str(SimFleet.shutdown_minutes)
    assert data["shutdown_after_minutes"] == SimFleet.shutdown_minutes
    # Without a long cold start there is no KeepWarmMinutes to set.
    quick = PlanRequest(slo_s=300, boot_s=60, concurrency=1)
    assert not quick.keeps_warm and quick.default_idle_minutes == SimFleet.shutdown_minutes
    assert PlanRequest(slo_s=300, boot_s=180, concurrency=1).default_idle_minutes == POLICY.keep_warm_minutes
