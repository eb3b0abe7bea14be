"""The tuner's guard rails on moto: widened lookback, running jobs, the SLO guard on the oldest message."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from queue_autoscaler.adapters import clients
from queue_autoscaler.adapters.metrics import FleetMetrics
from queue_autoscaler.common.settings import ConfigError
from queue_autoscaler.scaling.target import Action, TargetDecision
from queue_autoscaler.target_tuner import app
from tests.clock import NOW
from tests.integration.conftest import ASG_NAME, NAMESPACE, REGION, make_asg, make_asg_policy
from tests.integration.test_target_tuner import asg_policy, set_env

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

QUEUE = "work"
FLEET = [{"Name": "FleetName", "Value": ASG_NAME}]
# 60 completions of 10 s: tail 10 s, so the formula plans a wait of min(0.75, 0.4) x (300 - 10) = 116 s
# (SLO 300 s, c = 1, queue share 0.75 capped by max_wait_share 0.4): (116 + 10) / 10 = 12.6.
FORMULA_TARGET = 12.6


def put(namespace: str, name: str, dimensions: list[Any], at: datetime, **datum: Any) -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": name, "Dimensions": dimensions, "Timestamp": at, **datum}],
    )


def seed_completions(at: datetime) -> None:
    put(NAMESPACE, "MsgProcessingDuration", FLEET, at, Values=[10.0], Counts=[60.0], Unit="Seconds")


def seed_capacity(at: datetime, running: int, desired: int) -> None:
    put(NAMESPACE, "RunningCapacity", FLEET, at, Value=running)
    put(NAMESPACE, "DesiredCapacity", FLEET, at, Value=desired)


def seed_age(at: datetime, age_s: float, queue: str = QUEUE) -> None:
    put("AWS/SQS", "ApproximateAgeOfOldestMessage", [{"Name": "QueueName", "Value": queue}], at, Value=age_s)


def seed_history(now: datetime, history: list[tuple[int, int]]) -> None:
    """(running, desired) per minute, oldest first, the last one in the most recent complete minute."""
    minute = now.replace(second=0, microsecond=0)
    for back, (running, desired) in enumerate(reversed(history), start=1):
        seed_capacity(minute - timedelta(minutes=back, seconds=-30), running=running, desired=desired)


def seed_old_message(
    now: datetime, running: int, desired: int, age_s: float | None = 580.0, minutes: int = 15
) -> None:
    """60 completions of 10 s, the fleet's capacity in each of the last `minutes` complete minutes,
    and the oldest message's age a minute ago."""
    seed_completions(now - timedelta(minutes=5))
    seed_history(now, [(running, desired)] * minutes)
    if age_s is not None:
        seed_age(now - timedelta(minutes=1), age_s)


def record_statistics_queries(operation: str = "GetMetricStatistics") -> list[dict[str, Any]]:
    """The requests of one CloudWatch operation (moto matches dimensions loosely, and GetMetricData
    with dimensions ignores the namespace: the requests must be exact)."""
    calls: list[dict[str, Any]] = []
    clients.cloudwatch().meta.events.register(
        f"provide-client-params.monitoring.{operation}", lambda params, **_: calls.append(params)
    )
    return calls


def run_tuner(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, now: datetime, **env: str
) -> tuple[TargetDecision, Any]:
    """One tuner run from target 40; returns the decision and its log record (structured keys)."""
    make_asg(desired=1)
    make_asg_policy(target=40)
    set_env(monkeypatch, "EC2", QUEUE_NAME=QUEUE, **env)
    settings = app.get_settings()
    decision = app.tune(settings, app.make_policy(settings), FleetMetrics(NAMESPACE, ASG_NAME), now)
    [record] = [r for r in caplog.records if r.getMessage() in ("target updated", "target kept")]
    return decision, record


@pytest.fixture
def now(time_machine: Any) -> datetime:
    """A frozen clock: the seeded minutes and every clock read of the run agree."""
    time_machine.move_to(NOW, tick=False)
    return NOW


def test_durations_only_in_an_older_window_widen_the_lookback(monkeypatch, caplog, now):
    # Given completions 30 minutes ago only: none in the 10- and 20-minute windows
    seed_completions(now - timedelta(minutes=30))
    queries = record_statistics_queries()

    decision, record = run_tuner(monkeypatch, caplog, now)

    # Then the 40-minute window is used and the formula retunes from it
    assert record.lookback_minutes == 40
    assert decision.target == FORMULA_TARGET
    assert asg_policy()["TargetTrackingConfiguration"]["TargetValue"] == FORMULA_TARGET
    windows = [
        q["Period"] for q in queries if q["MetricName"] == "MsgProcessingDuration" and "Statistics" in q
    ]
    assert windows == [600, 1200, 2400]
    assert all(q["Dimensions"] == FLEET for q in queries if q.get("Namespace") == NAMESPACE)


def test_the_widest_window_is_capped_by_max_lookback(monkeypatch, caplog, now):
    seed_completions(now - timedelta(minutes=30))

    decision, record = run_tuner(monkeypatch, caplog, now, MAX_LOOKBACK_MINUTES="20")

    assert record.lookback_minutes == 20
    assert (decision.action, decision.target) == (Action.KEEP, 40.0)


def test_running_jobs_raise_the_planned_mean(monkeypatch, caplog, now):
    # Given 60 completions of 10 s and, in the last complete minute, 2 jobs that have run 1,200 s
    seed_completions(now - timedelta(minutes=5))
    last_minute = now.replace(second=0, microsecond=0) - timedelta(seconds=30)
    put(NAMESPACE, "RunningJobs", FLEET, last_minute, Value=2, Unit="Count")
    put(NAMESPACE, "RunningJobSeconds", FLEET, last_minute, Value=1200, Unit="Seconds")
    queries = record_statistics_queries()

    decision, record = run_tuner(monkeypatch, caplog, now)

    # Then the mean is (60 x 10 + 1200) / 60 = 30 s, and so the tail: (0.4 x (300 - 30) + 30) / 30 = 4.6,
    # reached from 40 by at most /8 a run
    assert record.mean_duration_s == 10.0
    assert record.planned_mean_duration_s == 30.0
    assert (decision.ideal, decision.target) == (4.6, 5.0)
    running = [q for q in queries if q["MetricName"] in ("RunningJobs", "RunningJobSeconds")]
    assert [(q["Dimensions"], q["Statistics"], q["Period"]) for q in running] == [(FLEET, ["Sum"], 60)] * 2


def test_an_old_message_on_a_settled_fleet_lowers_the_target(monkeypatch, caplog, now):
    # Given the formula's 12.6 and an oldest message of 580 s, above 0.5 x (300 - 10) = 145 s,
    # with the fleet running what it asked for (for 15 minutes: the whole age is blamed)
    seed_old_message(now, running=3, desired=3)
    seed_age(now - timedelta(minutes=1), 5.0, queue="another-queue")
    queries = record_statistics_queries()

    decision, record = run_tuner(monkeypatch, caplog, now)

    # Then the target is cut by budget / age: 40 x 145 / 580 = 10
    assert decision.target == 10.0
    assert decision.reason.startswith("SLO guard")
    assert asg_policy()["TargetTrackingConfiguration"]["TargetValue"] == 10.0
    assert record.slo_guard_acted is True
    assert record.oldest_message_age_s == 580.0
    [age_query] = [q for q in queries if q["Namespace"] == "AWS/SQS"]
    assert age_query["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert age_query["Dimensions"] == [{"Name": "QueueName", "Value": QUEUE}]
    assert age_query["Statistics"] == ["Maximum"]


def test_no_age_datapoint_leaves_the_formula_decision(monkeypatch, caplog, now):
    seed_old_message(now, running=3, desired=3, age_s=None)

    decision, record = run_tuner(monkeypatch, caplog, now)

    assert decision.target == FORMULA_TARGET
    assert decision.reason == "recomputed from measured durations"
    assert record.oldest_message_age_s is None
    assert record.slo_guard_acted is False


def test_an_unsettled_fleet_gets_no_guard(monkeypatch, caplog, now):
    # Given the same old message while capacity still boots (running 1 < desired 3)
    seed_old_message(now, running=1, desired=3)
    settled_queries = record_statistics_queries("GetMetricData")

    decision, record = run_tuner(monkeypatch, caplog, now)

    assert decision.target == FORMULA_TARGET
    assert record.fleet_settled is False
    assert record.slo_guard_acted is False
    # The guard ignores an unsettled fleet's age: how long it was settled is not even read.
    assert record.fleet_settled_for_s is None
    assert settled_queries == []


def test_an_old_message_on_a_fleet_settled_only_two_minutes_is_not_blamed(monkeypatch, caplog, now):
    # Given a message 600 s old, while the fleet booted for 5 minutes (running 1 < desired 3) and has
    # had all 3 for the last 2: 600 s > 145 s, but only 120 s of it were waited on a settled fleet
    seed_old_message(now, running=3, desired=3, age_s=600.0, minutes=0)
    seed_history(now, [(1, 3)] * 5 + [(3, 3)] * 2)

    decision, record = run_tuner(monkeypatch, caplog, now)

    # Then the formula's target stands: the cold start's wait says nothing about the target
    assert (record.fleet_settled, record.fleet_settled_for_s) == (True, 120.0)
    assert decision.target == FORMULA_TARGET
    assert record.slo_guard_acted is False


def test_the_settled_time_counts_back_from_the_age_datapoints_own_minute(monkeypatch, caplog, now):
    # Given the newest age datapoint 4 minutes old (AWS/SQS data arrives late): 600 s while the fleet
    # was still booting; it has had all 3 instances for the 3 minutes since
    seed_completions(now - timedelta(minutes=5))
    seed_history(now, [(1, 3)] * 12 + [(3, 3)] * 3)
    seed_age(now - timedelta(minutes=4), 600.0)

    decision, record = run_tuner(monkeypatch, caplog, now)

    # Then none of that age was waited on a settled fleet (counted up to now, 180 s > the 145 s limit
    # would have been blamed): the formula's target stands
    assert (record.fleet_settled, record.fleet_settled_for_s) == (True, 0.0)
    assert decision.target == FORMULA_TARGET
    assert record.slo_guard_acted is False


def test_the_same_age_on_a_fleet_settled_fifteen_minutes_cuts_the_target(monkeypatch, caplog, now):
    seed_old_message(now, running=3, desired=3, age_s=600.0, minutes=15)
    queries = record_statistics_queries("GetMetricData")

    decision, record = run_tuner(monkeypatch, caplog, now)

    # Then the whole age is blamed: 40 x 145 / 600 = 9.67
    assert decision.target == 9.67
    assert decision.reason.startswith("SLO guard: oldest message 600 s on a settled fleet")
    assert record.slo_guard_acted is True
    # ceil(600 / 60) + 1 = 11 minutes are read, all settled: the count stops there
    assert record.fleet_settled_for_s == 660.0
    [query] = queries
    minute = now.replace(second=0, microsecond=0)
    assert (query["StartTime"], query["EndTime"]) == (minute - timedelta(minutes=11), minute)
    assert [
        (q["MetricStat"]["Metric"], q["MetricStat"]["Stat"], q["MetricStat"]["Period"])
        for q in query["MetricDataQueries"]
    ] == [
        ({"Namespace": NAMESPACE, "MetricName": "RunningCapacity", "Dimensions": FLEET}, "Minimum", 60),
        ({"Namespace": NAMESPACE, "MetricName": "DesiredCapacity", "Dimensions": FLEET}, "Maximum", 60),
    ]


def test_guard_share_zero_turns_the_guard_off(monkeypatch, caplog, now):
    seed_old_message(now, running=3, desired=3)

    decision, _ = run_tuner(monkeypatch, caplog, now, SLO_GUARD_SHARE="0")

    assert decision.target == FORMULA_TARGET


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MAX_LOOKBACK_MINUTES": "5"}, "MAX_LOOKBACK_MINUTES"),
        ({"SLO_GUARD_SHARE": "1.5"}, "SLO_GUARD_SHARE"),
    ],
)
def test_bad_guard_settings_name_the_variable(monkeypatch, env, variable):
    set_env(monkeypatch, "EC2", **env)
    with pytest.raises(ConfigError, match=variable):
        app.get_settings()
