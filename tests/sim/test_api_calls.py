"""The simulator's count of AWS API calls follows the worker's rules (worker/consumer.py, lease.py,
protection.py, metrics.py) on small known cases, and sees the fleet-wide bursts that matter."""

from __future__ import annotations

import pytest

from qas import cli
from qas.model.control_plane import Platform
from qas.sim.api_calls import (
    COMPLETE_LIFECYCLE,
    DELETE,
    HEARTBEAT,
    PUT_METRIC_DATA,
    RECEIVE,
    ApiCalls,
    CallModel,
)
from qas.sim.engine import EngineSettings, Simulation
from qas.sim.policies import AlwaysOn, SimFleet
from qas.sim.traces import Trace

PROTECT_EC2 = "autoscaling:SetInstanceProtection"
PROTECT_ECS = "ecs:UpdateTaskProtection"
DESCRIBE_EC2 = "autoscaling:DescribeAutoScalingInstances"


def test_one_ec2_worker_two_messages_from_one_receive() -> None:
    model = CallModel(concurrency=2, flush_offset_s=60.0, rollout_check_s=100.0, termination_poll_s=0.0)
    calls = ApiCalls(model)
    calls.ready(1, 0.0)  # the worker completes the launch hook and starts long-polling
    calls.started(1, 50.0)  # one receive returns two messages at t=50
    calls.started(1, 50.0)
    calls.finished(1, 80.0, 50.0)  # both done 30 s later, in the same settle tick
    calls.finished(1, 80.0, 50.0)
    calls.gone(1, 200.0)
    times = dict(calls.calls)
    # Long polls of 20 s: empty at 20, 40; the receive at 50; empty again from 80 to 200 (6)
    assert times[RECEIVE] == [20.0, 40.0, 50.0, 100.0, 120.0, 140.0, 160.0, 180.0, 200.0]
    # Protected before starting; unprotected by the first empty poll with nothing held
    assert times[PROTECT_EC2] == [50.0, 100.0]
    # A heartbeat each 60 / 4 = 15 s of holding, both messages in one batch: at 65 and 80
    assert times[HEARTBEAT] == [65.0, 80.0]
    assert times[DELETE] == [80.0]  # one DeleteMessageBatch for both
    # Flushes every 60 s from t=60: running jobs at 60, the two processed at 120, nothing at 180
    assert times[PUT_METRIC_DATA] == [60.0, 120.0]
    # Launch and termination hooks, each completion after a describe of the instance's state; the
    # termination's after the drain, which waits for the long poll started at 200 (no periodic
    # rollout check on EC2)
    assert times[COMPLETE_LIFECYCLE] == times[DESCRIBE_EC2] == [0.0, 220.0]


def test_an_ecs_task_renews_its_protection_at_flushes_while_busy() -> None:
    # Protection expiring after 1 minute is renewed once 30 s have passed, at the next flush
    model = CallModel(platform=Platform.ECS, protection_expires_minutes=1, flush_offset_s=10.0)
    calls = ApiCalls(model)
    calls.ready(1, 0.0)
    calls.started(1, 0.0)
    calls.finished(1, 200.0, 0.0)
    calls.gone(1, 230.0)
    times = dict(calls.calls)
    assert times[PROTECT_ECS] == [0.0, 70.0, 130.0, 190.0, 220.0]  # on, 3 renewals, off after a poll
    assert COMPLETE_LIFECYCLE not in times  # EC2 only
    assert times[PUT_METRIC_DATA] == [10.0, 70.0, 130.0, 190.0, 230.0]  # the last at shutdown


def test_the_publisher_and_the_tuner() -> None:
    calls = ApiCalls(CallModel(samples_per_period=6))
    calls.sampled(60.0)
    calls.tuned(300.0)
    peaks = calls.peaks()
    assert peaks["sqs:GetQueueAttributes"].total == 6
    assert peaks["autoscaling:DescribeAutoScalingGroups"].total == 6
    assert peaks["autoscaling:DescribePolicies"].total == 2  # once per invocation, once per tuner run
    assert peaks[PUT_METRIC_DATA].per_second == 6


def fleet_of(workers: int, flush_offset_s: float | None) -> ApiCalls:
    """``workers`` instances running from t=0, each busy with one long job: a fleet that started together."""
    trace = Trace(tuple([0.0] * workers), tuple([900.0] * workers))
    fleet = SimFleet(slo_s=3600, max_capacity=workers, boot_s=60, concurrency=1)
    calls = ApiCalls(CallModel(flush_offset_s=flush_offset_s))
    settings = EngineSettings(concurrency=1, boot_s=60, initial_running=workers, drain_s=300)
    Simulation(trace, AlwaysOn(fleet), settings, slo_s=3600, api_calls=calls).run()
    return calls


def test_workers_that_start_together_spread_their_flushes() -> None:
    # Without jitter 600 workers flush in the same second, every minute: over CloudWatch's PutMetricData
    # quota of 500 per second on their own
    assert fleet_of(600, flush_offset_s=60.0).peaks()[PUT_METRIC_DATA].per_second > 500
    # With the worker's random first wait they spread over the minute
    assert fleet_of(600, flush_offset_s=None).peaks()[PUT_METRIC_DATA].per_second < 40


def test_the_api_calls_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["api-calls", "--scenarios", "burst", "--realism", "ideal", "--platforms", "EC2"]
    assert cli.main([*argv, "--rollout-check-seconds", "300"]) == 0
    out = capsys.readouterr().out
    assert "| `cloudwatch:PutMetricData` |" in out and "500 TPS" in out
    assert "| `autoscaling:DescribeAutoScalingInstances` |" in out  # before each lifecycle completion
    assert cli.main([*argv[:2], "nope"]) == 2
    err = capsys.readouterr().err
    assert "--scenarios" in err and "unknown nope" in err
