"""The target tuner on moto: both platforms, the guard rails, dry run, the percentile seam, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from queue_autoscaler.adapters import clients
from queue_autoscaler.adapters.errors import ResourceNotFoundError
from queue_autoscaler.adapters.fleet import AsgTargetPolicy
from queue_autoscaler.adapters.metrics import FleetMetrics
from queue_autoscaler.common.settings import ConfigError
from queue_autoscaler.target_tuner import app
from tests.integration.conftest import (
    ASG_NAME,
    CLUSTER,
    NAMESPACE,
    POLICY,
    REGION,
    SERVICE,
    asg_policy_config,
    ecs_policy_config,
    error_records,
    load_event,
    make_asg,
    make_asg_policy,
    make_ecs_policy,
    make_ecs_service,
    metric_dimensions,
    metric_values,
)

# The Metrics decorator warns when an invocation fails before any metric was added.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def set_env(monkeypatch: pytest.MonkeyPatch, platform: str, **extra: str) -> None:
    env = {
        "FLEET_PLATFORM": platform,
        "FLEET_NAME": ASG_NAME if platform == "EC2" else SERVICE,
        "ECS_CLUSTER": CLUSTER if platform == "ECS" else "",
        "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
        "SCALING_POLICY_NAME": POLICY,
        "LATENCY_SLO_SECONDS": "300",
        "WORKER_CONCURRENCY": "1",
        "CAPACITY_LEAD_SECONDS": "0",
        "MIN_SAMPLES": "30",
        **extra,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def seed_durations(fleet: str, values: list[float], counts: list[float]) -> None:
    """What workers publish: a histogram of measured durations (moto aggregates it faithfully)."""
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": "MsgProcessingDuration",
                "Dimensions": [{"Name": "FleetName", "Value": fleet}],
                "Timestamp": datetime.now(UTC) - timedelta(minutes=5),
                "Values": values,
                "Counts": counts,
                "Unit": "Seconds",
            }
        ],
    )


def asg_policy() -> dict[str, Any]:
    [policy] = boto3.client("autoscaling", region_name=REGION).describe_policies(
        AutoScalingGroupName=ASG_NAME, PolicyNames=[POLICY]
    )["ScalingPolicies"]
    return dict(policy)


def ecs_policy() -> dict[str, Any]:
    policies = boto3.client("application-autoscaling", region_name=REGION).describe_scaling_policies(
        ServiceNamespace="ecs"
    )["ScalingPolicies"]
    [policy] = [p for p in policies if p["PolicyName"] == POLICY]
    return dict(policy)


def test_ec2_updates_only_the_target_value(monkeypatch, context):
    # Given 60 durations: mean 10 s, max 15 s, no percentile (moto): tail = min(max, 3 x mean) = 15 s
    make_asg(desired=1)
    make_asg_policy(target=40)
    seed_durations(ASG_NAME, [5, 10, 15], [20, 20, 20])
    set_env(monkeypatch, "EC2")

    result = app.lambda_handler(load_event("target_tuner"), context)

    # Then planned wait = min(0.75 x (slo - tail), 0.4 x (slo - tail)) = min(213.75, 114) = 114 s
    # and target = c * (planned + mean) / mean = (114 + 10) / 10 = 12.4
    assert result["action"] == "update"
    assert result["applied"] is True
    assert result["target"] == 12.4
    policy = asg_policy()
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["TargetTrackingConfiguration"] == {**asg_policy_config(12.4), "TargetValue": 12.4}
    assert policy["EstimatedInstanceWarmup"] == 90  # moto does not return Enabled: see test_fleet_policy
    assert metric_values("TargetBacklogPerInstance", ASG_NAME, "Maximum") == [12.4]
    assert metric_dimensions({"TargetBacklogPerInstance"}) == {
        "TargetBacklogPerInstance": [{"Name": "FleetName", "Value": ASG_NAME}]
    }


def test_ecs_updates_only_the_target_value_of_its_own_policy(monkeypatch, context):
    make_ecs_service(desired=1)
    make_ecs_policy(target=40)
    seed_durations(SERVICE, [5, 10, 15], [20, 20, 20])
    set_env(monkeypatch, "ECS", WORKER_CONCURRENCY="2")

    result = app.lambda_handler(load_event("target_tuner"), context)

    # Then target = 2 * (114 + 10) / 10 = 24.8, within one /8 step of 40
    assert result["target"] == 24.8
    policy = ecs_policy()
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["TargetTrackingScalingPolicyConfiguration"] == ecs_policy_config(24.8)
    other = boto3.client("application-autoscaling", region_name=REGION).describe_scaling_policies(
        ServiceNamespace="ecs"
    )["ScalingPolicies"]
    assert [
        p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
        for p in other
        if p["PolicyName"] != POLICY
    ] == [999.0]
    assert metric_values("TargetBacklogPerInstance", SERVICE, "Maximum") == [24.8]


def test_large_raise_is_step_limited(monkeypatch, context):
    make_asg(desired=1)
    make_asg_policy(target=5)
    seed_durations(ASG_NAME, [5, 10, 15], [20, 20, 20])
    set_env(monkeypatch, "EC2", MAX_STEP_RATIO="2")

    result = app.lambda_handler(load_event("target_tuner"), context)

    # The formula says 12.4; one run may raise the target by at most MAX_STEP_RATIO (2)
    assert result["target"] == 10.0
    assert "limited" in result["reason"]
    assert asg_policy()["TargetTrackingConfiguration"]["TargetValue"] == 10.0


def test_no_data_keeps_the_target_and_still_publishes_it(monkeypatch, context):
    make_asg(desired=0)
    make_asg_policy(target=40)
    set_env(monkeypatch, "EC2")

    result = app.lambda_handler(load_event("target_tuner"), context)

    assert result["action"] == "keep"
    assert result["reason"] == "no processing-duration data"
    assert asg_policy()["TargetTrackingConfiguration"] == asg_policy_config(40)
    assert metric_values("TargetBacklogPerInstance", ASG_NAME, "Maximum") == [40.0]


def test_too_few_samples_keeps_the_target(monkeypatch, context):
    make_asg(desired=1)
    make_asg_policy(target=40)
    seed_durations(ASG_NAME, [10], [5])
    set_env(monkeypatch, "EC2")

    result = app.lambda_handler(load_event("target_tuner"), context)

    assert result["action"] == "keep"
    assert "too few samples (5 < 30)" in result["reason"]
    assert asg_policy()["TargetTrackingConfiguration"]["TargetValue"] == 40


def test_durations_of_another_fleet_are_not_used(monkeypatch, context):
    make_asg(desired=1)
    make_asg_policy(target=40)
    seed_durations("another-fleet", [5, 10, 15], [20, 20, 20])
    set_env(monkeypatch, "EC2")

    assert app.lambda_handler(load_event("target_tuner"), context)["action"] == "keep"


def test_dry_run_logs_the_decision_and_changes_nothing(monkeypatch, context, caplog):
    make_asg(desired=1)
    make_asg_policy(target=40)
    seed_durations(ASG_NAME, [5, 10, 15], [20, 20, 20])
    set_env(monkeypatch, "EC2", DRY_RUN="true")

    result = app.lambda_handler(load_event("target_tuner"), context)

    assert (result["action"], result["target"], result["applied"]) == ("update", 12.4, False)
    assert asg_policy()["TargetTrackingConfiguration"] == asg_policy_config(40)
    assert metric_values("TargetBacklogPerInstance", ASG_NAME, "Maximum") == [40.0]
    [record] = [r for r in caplog.records if r.getMessage() == "dry run: would update target"]
    assert (record.current_target, record.new_target, record.samples) == (40, 12.4, 60)
    assert record.tail_duration_s is None


def test_percentile_from_cloudwatch_is_used_as_the_tail(monkeypatch):
    # Given CloudWatch's p90 (moto never computes one, so the CloudWatch client is stubbed)
    make_asg(desired=1)
    make_asg_policy(target=40)
    set_env(monkeypatch, "EC2", TAIL_PERCENTILE="p90", LOOKBACK_MINUTES="60")
    settings = app.get_settings()
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    window = {
        "Namespace": NAMESPACE,
        "MetricName": "MsgProcessingDuration",
        "Dimensions": [{"Name": "FleetName", "Value": ASG_NAME}],
        "StartTime": now - timedelta(hours=1),
        "EndTime": now,
        "Period": 3600,
    }
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    with Stubber(cloudwatch) as stub:
        for running in ("RunningJobs", "RunningJobSeconds"):  # none published: no correction
            stub.add_response(
                "get_metric_statistics",
                {"Datapoints": []},
                {
                    **window,
                    "MetricName": running,
                    "StartTime": now - timedelta(minutes=1),
                    "Period": 60,
                    "Statistics": ["Sum"],
                },
            )
        stub.add_response(
            "get_metric_statistics",
            {"Datapoints": [{"Average": 10.0, "SampleCount": 60.0, "Maximum": 40.0}]},
            {**window, "Statistics": ["Average", "SampleCount", "Maximum"]},
        )
        stub.add_response(
            "get_metric_statistics",
            {"Datapoints": [{"ExtendedStatistics": {"p90": 12.0}}]},
            {**window, "ExtendedStatistics": ["p90"]},
        )
        stub.add_response("put_metric_data", {}, {"Namespace": NAMESPACE, "MetricData": ANY})

        decision = app.tune(
            settings, app.make_policy(settings), FleetMetrics(NAMESPACE, ASG_NAME, cloudwatch), now
        )
        stub.assert_no_pending_responses()

    # Then the tail is p90 = 12 s (not the capped max, 30 s): (0.4 * (300 - 12) + 10) / 10 = 12.52
    assert decision.target == 12.5
    assert asg_policy()["TargetTrackingConfiguration"]["TargetValue"] == 12.5


def test_missing_policy_fails_and_publishes_nothing(monkeypatch, context, caplog):
    make_asg(desired=1)
    set_env(monkeypatch, "EC2")

    with pytest.raises(ResourceNotFoundError, match=POLICY):
        app.lambda_handler(load_event("target_tuner"), context)

    [record] = error_records(caplog)
    assert record.step == "read scaling policy"  # type: ignore[attr-defined]
    assert boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace=NAMESPACE)["Metrics"] == []


def test_missing_ecs_policy_fails(monkeypatch, context, caplog):
    make_ecs_service(desired=1)
    set_env(monkeypatch, "ECS")

    with pytest.raises(ResourceNotFoundError, match=f"service/{CLUSTER}/{SERVICE}"):
        app.lambda_handler(load_event("target_tuner"), context)
    assert len(error_records(caplog)) == 1


def test_access_denied_on_update_fails_the_invocation(monkeypatch, context, caplog):
    make_asg(desired=1)
    make_asg_policy(target=40)
    seed_durations(ASG_NAME, [5, 10, 15], [20, 20, 20])
    set_env(monkeypatch, "EC2")
    # moto's own describe answer fails Stubber's response validation, so describe by hand.
    described = {
        "ScalingPolicies": [
            {
                "AutoScalingGroupName": ASG_NAME,
                "PolicyName": POLICY,
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingConfiguration": asg_policy_config(40),
            }
        ]
    }
    with Stubber(clients.autoscaling()) as stub:
        stub.add_response("describe_policies", described)  # read once: the target and the whole configuration
        stub.add_client_error("put_scaling_policy", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(ClientError, match="AccessDenied"):
            app.lambda_handler(load_event("target_tuner"), context)

    [record] = error_records(caplog)
    assert (record.step, record.error_code) == ("update scaling policy", "AccessDenied")  # type: ignore[attr-defined]
    # The target in force did not change, and no target metric claims it did.
    assert asg_policy()["TargetTrackingConfiguration"]["TargetValue"] == 40
    assert metric_values("TargetBacklogPerInstance", ASG_NAME, "Maximum") == []


def test_throttled_statistics_fail_the_invocation(monkeypatch, context, caplog):
    make_asg(desired=1)
    make_asg_policy(target=40)
    set_env(monkeypatch, "EC2")
    with Stubber(clients.cloudwatch()) as stub:
        stub.add_client_error("get_metric_statistics", service_error_code="Throttling", http_status_code=400)
        with pytest.raises(ClientError, match="Throttling"):
            app.lambda_handler(load_event("target_tuner"), context)
    assert [r.error_code for r in error_records(caplog)] == ["Throttling"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"LATENCY_SLO_SECONDS": "0"}, "LATENCY_SLO_SECONDS"),
        ({"SCALING_POLICY_NAME": ""}, "SCALING_POLICY_NAME"),
        ({"TAIL_PERCENTILE": "median"}, "TAIL_PERCENTILE"),
        ({"TARGET_MIN": "50", "TARGET_MAX": "10"}, "TARGET_MAX"),
        ({"MAX_STEP_RATIO": "1"}, "MAX_STEP_RATIO"),
        ({"LEAD_TIME_WEIGHT": "2"}, "LEAD_TIME_WEIGHT"),
        ({"DRY_RUN": "maybe"}, "DRY_RUN"),
    ],
)
def test_bad_configuration_names_the_variable(monkeypatch, context, env, variable):
    set_env(monkeypatch, "EC2", **env)

    with pytest.raises(ConfigError, match=variable):
        app.lambda_handler(load_event("target_tuner"), context)


def test_policy_adapter_refuses_a_simple_scaling_policy_of_the_same_name():
    make_asg(desired=1)
    boto3.client("autoscaling", region_name=REGION).put_scaling_policy(
        AutoScalingGroupName=ASG_NAME,
        PolicyName=POLICY,
        AdjustmentType="ChangeInCapacity",
        ScalingAdjustment=1,
    )
    with pytest.raises(ResourceNotFoundError):
        AsgTargetPolicy(ASG_NAME, POLICY).current_target()


def test_moto_durations_have_no_percentile_so_the_tail_is_unknown():
    seed_durations(ASG_NAME, [5, 10, 15], [20, 20, 20])

    stats = FleetMetrics(NAMESPACE, ASG_NAME).duration_stats(datetime.now(UTC), 60, "p90")

    assert stats is not None
    assert (stats.samples, stats.mean_s, stats.max_s, stats.tail_s) == (60, 10.0, 15.0, None)
