"""The tuner without the worker's metric: Little's law on AWS/SQS and publisher statistics seeded on moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from queue_autoscaler.adapters.metrics import FleetMetrics
from queue_autoscaler.scaling.service_time import estimate_service_time
from queue_autoscaler.target_tuner import app
from tests.clock import NOW
from tests.integration.conftest import ASG_NAME, NAMESPACE, REGION, load_event, make_asg, make_asg_policy
from tests.integration.test_target_tuner import asg_policy, seed_durations, set_env

# The seeded minutes and the tuner's own clock read must fall in the same minute: time stands still.
pytestmark = [
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
    pytest.mark.time_machine(NOW, tick=False),
]

QUEUE_NAME = "work"


def put_point(namespace: str, name: str, dimension: tuple[str, str], at: datetime, value: float) -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}],
                "Timestamp": at,
                "Value": value,
                "Unit": "Count",
            }
        ],
    )


def seed_queue_statistics(
    minutes: int, in_flight: float, deleted_per_minute: float, now: datetime | None = None
) -> None:
    """What the metric publisher (InFlightMessages) and SQS itself (NumberOfMessagesDeleted) record,
    one point at :30 of each of the ``minutes`` minutes before ``now``'s."""
    now = (now or datetime.now(UTC)).replace(second=30, microsecond=0)
    for minute in range(1, minutes + 1):
        at = now - timedelta(minutes=minute)
        put_point(NAMESPACE, "InFlightMessages", ("FleetName", ASG_NAME), at, in_flight)
        put_point("AWS/SQS", "NumberOfMessagesDeleted", ("QueueName", QUEUE_NAME), at, deleted_per_minute)


def run_tuner(monkeypatch, context, caplog, **env: str) -> tuple[dict[str, Any], Any]:
    """One tuner run on a group whose policy targets 40; its result and its decision log record."""
    make_asg(desired=1)
    make_asg_policy(target=40)
    set_env(monkeypatch, "EC2", QUEUE_NAME=QUEUE_NAME, **env)
    result = app.lambda_handler(load_event("target_tuner"), context)
    [record] = [r for r in caplog.records if r.getMessage().startswith("target ")]
    return result, record


def test_without_the_worker_metric_the_tuner_uses_littles_law(monkeypatch, context, caplog):
    # Given 8 minutes of 4 messages in flight and 48 deleted a minute: W = 4 x 60 / 48 = 5 s
    seed_queue_statistics(minutes=8, in_flight=4, deleted_per_minute=48)

    result, record = run_tuner(monkeypatch, context, caplog)

    # Then target = c * (min(0.75, 0.4) x (slo - tail) + mean) / mean = (0.4 x 295 + 5) / 5 = 24.6
    # (no percentile: tail = mean)
    assert (result["action"], result["target"]) == ("update", 24.6)
    assert asg_policy()["TargetTrackingConfiguration"]["TargetValue"] == 24.6
    assert record.getMessage() == "target updated"
    assert record.duration_source == "littles_law"
    assert record.duration_source_reason.startswith("no MsgProcessingDuration; Little's law")
    assert (record.samples, record.mean_duration_s) == (384, 5.0)


def test_the_worker_metric_wins_when_both_exist(monkeypatch, context, caplog):
    seed_durations(ASG_NAME, [5, 10, 15], [20, 20, 20])
    seed_queue_statistics(minutes=8, in_flight=4, deleted_per_minute=48)

    result, record = run_tuner(monkeypatch, context, caplog)

    assert result["target"] == 12.4  # the MsgProcessingDuration answer (test_target_tuner.py)
    assert record.duration_source == "MsgProcessingDuration"


def _attached_lines(caplog) -> list[Any]:
    return [r for r in caplog.records if r.getMessage().startswith("attached fleet")]


def test_an_attached_fleet_says_it_runs_on_the_queue(monkeypatch, context, caplog):
    # Given an attached fleet (the template's AttachFleet) whose consumer publishes no durations
    seed_queue_statistics(minutes=8, in_flight=4, deleted_per_minute=48)

    result, _ = run_tuner(monkeypatch, context, caplog, FLEET_ATTACHED="true")

    # Then it tunes on Little's law as any fleet would, and one line says so
    assert result["target"] == 24.6
    [line] = _attached_lines(caplog)
    assert line.getMessage() == (
        "attached fleet: no MsgProcessingDuration from the consumer; durations from the queue (Little's law)"
    )
    assert (line.fleet_attached, line.duration_source) == (True, "littles_law")


def test_an_attached_fleet_running_our_worker_says_it_uses_its_durations(monkeypatch, context, caplog):
    seed_durations(ASG_NAME, [5, 10, 15], [20, 20, 20])

    run_tuner(monkeypatch, context, caplog, FLEET_ATTACHED="true")

    [line] = _attached_lines(caplog)
    assert line.getMessage() == "attached fleet: durations from the consumer's MsgProcessingDuration"


def test_an_attached_fleet_without_enough_data_says_the_target_stays(monkeypatch, context, caplog):
    seed_queue_statistics(minutes=2, in_flight=1, deleted_per_minute=5)

    result, _ = run_tuner(monkeypatch, context, caplog, FLEET_ATTACHED="true")

    assert result["action"] == "keep"
    [line] = _attached_lines(caplog)
    assert line.getMessage().endswith("too little queue data; the target stays")


def test_a_fleet_of_ours_has_no_attached_line(monkeypatch, context, caplog):
    seed_queue_statistics(minutes=8, in_flight=4, deleted_per_minute=48)

    run_tuner(monkeypatch, context, caplog)

    assert _attached_lines(caplog) == []


def test_too_few_completions_keeps_the_target_and_says_why(monkeypatch, context, caplog):
    seed_queue_statistics(minutes=2, in_flight=1, deleted_per_minute=5)

    result, record = run_tuner(monkeypatch, context, caplog)

    assert result["action"] == "keep"
    assert asg_policy()["TargetTrackingConfiguration"]["TargetValue"] == 40
    assert record.getMessage() == "target kept"
    assert record.duration_source == "none"
    assert "10 messages completed in the window, fewer than 30" in record.duration_source_reason


def test_minutes_that_sqs_has_not_reported_yet_are_left_out():
    # AWS/SQS data arrives late: a minute with in-flight data but no delete count must not read as 0.
    # The late point falls in the current, incomplete minute, which SQS has not reported yet.
    now = datetime.now(UTC).replace(second=30, microsecond=0)
    seed_queue_statistics(minutes=4, in_flight=2, deleted_per_minute=30, now=now)
    put_point(NAMESPACE, "InFlightMessages", ("FleetName", ASG_NAME), now + timedelta(seconds=10), 50)
    intervals = FleetMetrics(NAMESPACE, ASG_NAME).queue_intervals(now + timedelta(seconds=15), 10, QUEUE_NAME)
    assert [(i.in_flight, i.completed) for i in intervals] == [(2, 30)] * 4
    estimate = estimate_service_time(intervals)
    assert estimate.stats is not None and estimate.stats.mean_s == 4.0
