"""Which part of a boot the running count sees: with the launch lifecycle hook, InService means the
worker consumes; without it, EC2 puts the instance InService while user data still installs and pulls
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from qas import cli
from qas.model.control_plane import Platform
from qas.sim.engine import EngineSettings, SimResult, Simulation
from qas.sim.policies import SimFleet, TargetTracking, our_backlog
from qas.sim.runner import simulate
from qas.sim.traces import Trace, write_csv

BOOT_S, IN_SERVICE_S = 300.0, 30.0
# Target tracking alone, at a fixed target of 10 (the lanes would blur the timing).
FLEET = SimFleet(
    slo_s=3600, max_capacity=20, boot_s=BOOT_S, concurrency=1, fast_lane=False, scale_in_lane=False
)


def burst_then_more() -> Trace:
    """20 long jobs at t=0 (the bootstrap alarm starts 2 instances at t=60: 20 >= 2 x target), then 10
    more at t=150: a backlog of 30 needs 3."""
    arrivals = [0.0] * 20 + [150.0] * 10
    return Trace(tuple(arrivals), tuple([10_000.0] * 30))


def run(in_service_s: float | None) -> SimResult:
    settings = EngineSettings(concurrency=1, boot_s=BOOT_S, drain_s=600, in_service_s=in_service_s)
    policy = TargetTracking(FLEET, 10.0, "static", our_backlog)
    return Simulation(burst_then_more(), policy, settings, slo_s=3600).run()


def by_time(result: SimResult) -> dict[float, tuple[int, int]]:
    return {p.t_s: (p.running, p.desired) for p in result.timeline}


def test_an_instance_in_service_before_it_consumes_inflates_running_and_delays_the_scale_out() -> None:
    hook, no_hook = by_time(run(None)), by_time(run(IN_SERVICE_S))
    # Both start 2 instances at t=60 (the bootstrap alarm keys on desired, not running).
    assert hook[60.0] == no_hook[60.0] == (0, 2)
    # With the hook the 2 booting instances are not running: the metric stays 20/1 and then 30/1, above
    # the target since t=60, so the third datapoint (t=180) scales out to ceil(30 / 10) = 3.
    assert [hook[t] for t in (120.0, 180.0, 240.0)] == [(0, 2), (0, 3), (0, 3)]
    # Without it they are InService from t=90 and counted: the metric is 20/2 = 10 at t=120 (not above
    # the target, the high alarm restarts), 15 from t=180, and the scale-out waits for t=300.
    assert [no_hook[t] for t in (120.0, 180.0, 240.0, 300.0)] == [(2, 2), (2, 2), (2, 2), (2, 3)]
    # At t=360 the first two consume in both runs; the third counts without the hook (InService at
    # 330, consuming only at 600) and not with it (launched at 180, consuming at 480).
    assert (hook[360.0][0], no_hook[360.0][0]) == (2, 3)
    assert hook[480.0][0] == 3


def test_the_hook_is_the_default_and_changes_nothing_when_in_service_means_ready() -> None:
    assert FLEET.launch_hook and FLEET.published_in_service_s is None
    fleet = dataclasses.replace(FLEET, launch_hook=False, in_service_s=BOOT_S)
    # InService no earlier than the boot: the same run as with the hook
    no_gap = simulate(burst_then_more(), "static-8", fleet, drain_s=600).summary()
    assert no_gap == simulate(burst_then_more(), "static-8", FLEET, drain_s=600).summary()


def test_no_launch_hook_is_ec2_only_and_named_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match="--no-launch-hook is EC2 only"):
        dataclasses.replace(FLEET, platform=Platform.ECS, launch_hook=False)
    path = tmp_path / "t.csv"
    write_csv(burst_then_more(), path)
    base = ["simulate", "--trace", str(path), "--slo-seconds", "3600", "--max-capacity", "20"]
    base += ["--boot-seconds", "300", "--concurrency", "1", "--policy", "static-8", "--json"]
    assert cli.main([*base, "--no-launch-hook", "--in-service-seconds", "30"]) == 0
    capsys.readouterr()
    assert cli.main([*base, "--no-launch-hook", "--platform", "ECS"]) == 2
    assert "--no-launch-hook is EC2 only" in capsys.readouterr().err
    assert cli.main([*base, "--in-service-seconds", "-1"]) == 2
    assert "--in-service-seconds" in capsys.readouterr().err
