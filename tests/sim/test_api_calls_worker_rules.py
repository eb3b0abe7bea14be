"""The simulator counts the worker's Auto Scaling and ECS calls by the worker's own rules, from the
definitions the worker uses (worker/rollout_watch.py, worker/lifecycle.py, worker/termination.py):

* ECS only: a rollout check (DescribeServices) at a random point of the first five intervals, then
  every max(WORKER_ROLLOUT_CHECK_SECONDS, running tasks / 2) s, jittered by +-50%; EC2 workers make
  no periodic check (they learn of a refresh through the termination hook);
* EC2: a DescribeAutoScalingInstances before each lifecycle completion (launch and termination);
* EC2: a RecordLifecycleActionHeartbeat at the termination notice and every 30 s of the drain."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qas import cli
from qas.model.control_plane import Platform
from qas.sim.api_calls import COMPLETE_LIFECYCLE, ApiCalls, CallModel
from worker.rollout_watch import FIRST_CHECK_SPREAD, fleet_checks_per_second
from worker.termination import HEARTBEAT_EVERY_SECONDS

DESCRIBE_INSTANCES = "autoscaling:DescribeAutoScalingInstances"
HEARTBEAT = "autoscaling:RecordLifecycleActionHeartbeat"
DESCRIBE_SERVICES = "ecs:DescribeServices"


def test_an_ec2_worker_describes_before_each_completion_and_heartbeats_at_the_notice() -> None:
    calls = ApiCalls(CallModel(termination_poll_s=0.0, flush_offset_s=60.0, rollout_check_s=60.0))
    calls.ready(1, 0.0)  # the launch action: its state read, then its completion
    calls.gone(1, 50.0)  # terminated while idle: the long poll it started at 40 returns at 60
    times = dict(calls.calls)
    assert times[HEARTBEAT] == [50.0]  # at once at the notice
    assert times[DESCRIBE_INSTANCES] == [0.0, 60.0]  # no periodic check on EC2
    assert times[COMPLETE_LIFECYCLE] == [0.0, 60.0]  # after the drain: the long poll in flight


def test_every_ec2_auto_scaling_call_counts_against_one_bucket() -> None:
    calls = ApiCalls(CallModel(termination_poll_s=0.0))
    for iid in (1, 2):
        calls.ready(iid, 0.0)  # two launches in the same second
    calls.started(1, 0.5)  # and a protection call
    peaks = calls.peaks()
    assert peaks[DESCRIBE_INSTANCES].per_second == peaks[COMPLETE_LIFECYCLE].per_second == 2
    assert peaks["autoscaling:*"].per_second == 5
    assert peaks["autoscaling:*"].total == 5
    assert "sqs:*" not in peaks  # SQS quotas are per API action


def test_a_drain_longer_than_the_heartbeat_interval_heartbeats_every_interval() -> None:
    # A long poll of 100 s (longer than SQS allows, to make the drain last): notice at 50, drained at 100
    calls = ApiCalls(CallModel(termination_poll_s=0.0, wait_time_s=100.0))
    calls.ready(1, 0.0)
    calls.gone(1, 50.0)
    assert calls.calls[HEARTBEAT] == [50.0, 50.0 + HEARTBEAT_EVERY_SECONDS]
    assert calls.calls[COMPLETE_LIFECYCLE] == [0.0, 100.0]


def test_an_ecs_task_checks_at_a_random_first_point_then_every_interval_jittered() -> None:
    calls = ApiCalls(CallModel(platform=Platform.ECS, rollout_check_s=60.0))
    calls.ready(1, 0.0)
    calls.gone(1, 4 * 3600.0)
    checks = np.asarray(calls.calls[DESCRIBE_SERVICES])
    assert 0.0 <= checks[0] < FIRST_CHECK_SPREAD * 60.0
    gaps = np.diff(checks)
    # One task running: every max(60, 1 / 2) = 60 s, times a draw in [0.5, 1.5]
    assert gaps.min() >= 30.0 and gaps.max() <= 90.0
    assert gaps.min() < 40.0 and gaps.max() > 80.0, "jittered over the whole range"
    assert abs(gaps.mean() - 60.0) < 3.0
    assert COMPLETE_LIFECYCLE not in calls.calls and DESCRIBE_INSTANCES not in calls.calls


def _ecs_fleet(workers: int, until_s: float) -> ApiCalls:
    calls = ApiCalls(CallModel(platform=Platform.ECS, rollout_check_s=60.0))
    for iid in range(workers):
        calls.ready(iid, 0.0)  # a fleet that starts together (a scale-out from 0)
    for iid in range(workers):
        calls.gone(iid, until_s)
    return calls


def test_a_large_ecs_fleet_spreads_its_checks_and_keeps_within_the_fleet_budget() -> None:
    # 600 tasks: each checks every max(60, 600 / 2) = 300 s, so the fleet 2 a second in all
    calls = _ecs_fleet(600, until_s=3 * 3600.0)
    checks = np.sort(np.asarray(calls.calls[DESCRIBE_SERVICES]))
    settled = checks[(checks > 3600.0) & (checks < 3 * 3600.0 - 600.0)]
    rate = len(settled) / (3 * 3600.0 - 600.0 - 3600.0)
    assert abs(rate - fleet_checks_per_second(600, 60.0)) < 0.2
    # Started in the same second, they never check in the same second: at most a handful at once
    assert calls.peaks()[DESCRIBE_SERVICES].per_second <= 12


def test_the_command_takes_the_workers_check_interval_and_its_bounds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["api-calls", "--scenarios", "burst", "--realism", "ideal", "--platforms", "ECS", "--json"]

    def describes(*extra: str) -> int:
        assert cli.main([*argv, *extra]) == 0
        total: int = json.loads(capsys.readouterr().out)[DESCRIBE_SERVICES]["total"]
        return total

    # The worker's default (60 s) checks; 0 turns them off, leaving the publisher's reads
    assert describes() > describes("--rollout-check-seconds", "0") > 0
    assert cli.main([*argv, "--rollout-check-seconds", "3601"]) == 2  # the worker refuses it too
    assert "--rollout-check-seconds" in capsys.readouterr().err
