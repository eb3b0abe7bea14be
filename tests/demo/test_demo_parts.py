"""The demo's pure parts: schedules, load profiles, options, completion records, percentiles."""

from __future__ import annotations

import argparse
import json

import pytest

from qas.demo.cli import add_arguments, config_from
from qas.demo.config import PROFILES, DemoConfig
from qas.demo.lambdas import Rule, due, rate_minutes
from qas.demo.report import Completions, percentile
from qas.demo.stack import bootstrap_steps, capacity_lead_s, initial_target, stack_parameters
from qas.emulator import StepAdjustment
from qas.model.control_plane import ControlPlaneConfig, Platform


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(
    ("expression", "minutes"),
    [("rate(1 minute)", 1), ("rate(5 minutes)", 5), ("rate(1 hour)", 60), ("rate(2 days)", 2880)],
)
def test_rate_expressions_become_demo_minutes(expression, minutes):
    assert rate_minutes(expression) == minutes


def test_cron_is_not_scheduled_and_disabled_rules_never_fire():
    assert rate_minutes("cron(0 12 * * ? *)") is None
    hourly = Rule("tuner", 60, True, "f", {})
    assert [m for m in range(125) if due(hourly, m)] == [0, 60, 120]
    assert not any(due(Rule("producer", 1, False, "f", {}), m) for m in range(10))


def test_profile_phases_cover_the_timeline_in_order():
    profile = PROFILES["burst-steady-silence"]
    names = [profile.phase_at(m).name for m in range(profile.minutes)]  # type: ignore[union-attr]
    assert names[0] == "idle" and names[1] == "burst"
    assert names[-1] == "silence"
    assert profile.phase_at(profile.minutes) is None
    # Only phases with messages enable the producer; their Input is a valid producer event.
    burst = profile.phase_at(1)
    assert burst is not None
    assert burst.producer_input()["count"] == 150


def test_quick_preset_then_explicit_options_win():
    quick = config_from(parse("--quick"))
    assert quick.profile.name == "quick"
    assert quick.seconds_per_minute == 2.0
    tuned = config_from(
        parse("--quick", "--seconds-per-minute", "3", "--platform", "ECS", "--slo-seconds", "12")
    )
    assert (tuned.seconds_per_minute, tuned.platform, tuned.slo_seconds) == (3.0, Platform.ECS, 12.0)
    default = config_from(parse())
    assert default == DemoConfig()


def test_a_clock_too_fast_for_minute_windows_is_refused():
    with pytest.raises(ValueError, match="seconds-per-minute"):
        DemoConfig(seconds_per_minute=1.0)


def test_stack_parameters_put_both_time_scales_in_real_seconds():
    cfg = DemoConfig(seconds_per_minute=4.0, boot_minutes=2.0, slo_seconds=50.0)
    params = stack_parameters(cfg)
    # Alarm evaluation (3 demo minutes) plus boot (2), at 4 real seconds each.
    assert capacity_lead_s(cfg) == 20.0
    assert params["CapacityLeadSeconds"] == "20"
    assert params["LatencySloSeconds"] == "50"
    assert params["HighResolutionMetrics"] == "false"
    assert int(params["InitialTarget"]) == initial_target(cfg) >= 1


def test_completions_count_each_job_once_and_wait_for_whole_lines(tmp_path):
    path = tmp_path / "completions.jsonl"
    record = {"job_id": "a", "produced_at": 10.0, "started_at": 11.0, "done_at": 13.5}
    # A redelivered message completes twice; the second line is still being written.
    path.write_text(
        json.dumps(record) + "\n" + json.dumps({**record, "done_at": 20.0}) + "\n" + '{"job_id": "b"'
    )
    completions = Completions()
    new = completions.read([path])
    assert [r["job_id"] for r in new] == ["a"]
    assert completions.latencies() == [3.5]
    with path.open("a") as out:
        out.write(', "produced_at": 1.0, "done_at": 2.0}\n')
    assert [r["job_id"] for r in completions.read([path])] == ["b"]
    assert len(completions.done) == 2


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 50) == 10.0
    assert percentile(values, 95) == 19.0
    assert percentile([], 95) is None


def test_bootstrap_steps_in_instances_become_visible_message_bounds():
    # Given the template's bootstrap steps on visible / InitialTarget (InitialTarget 12)
    steps = [
        StepAdjustment(lower_bound=0.0, upper_bound=2.0, scaling_adjustment=1),
        StepAdjustment(lower_bound=2.0, upper_bound=4.0, scaling_adjustment=2),
        StepAdjustment(lower_bound=4.0, upper_bound=None, scaling_adjustment=4),
    ]
    # Then the model gets visible-message bounds; the step from 0 is its bootstrap_capacity
    converted = bootstrap_steps(steps, 12)
    assert converted == ((24, 2), (48, 4))
    config = ControlPlaneConfig(target=12.0, max_capacity=10, bootstrap_steps=converted)
    assert [config.bootstrap_for(v) for v in (1, 23, 24, 47, 48, 500)] == [1, 1, 2, 2, 4, 4]
