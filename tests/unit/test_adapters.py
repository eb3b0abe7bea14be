"""Adapters against botocore's Stubber: the exact requests they make and how they read answers.

Stubbed clients never open a connection; these cover what moto cannot show (Enabled, Period,
metric math specs, several result pages, percentiles).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from queue_autoscaler.adapters.errors import ResourceNotFoundError
from queue_autoscaler.adapters.fleet import AsgFleet, AsgTargetPolicy, EcsServiceFleet, EcsTargetPolicy
from queue_autoscaler.adapters.metrics import FleetMetrics, combine

REGION = "us-east-1"


def client(name: str) -> Any:
    return boto3.client(name, region_name=REGION)  # type: ignore[call-overload]


ASG_CONFIG: dict[str, Any] = {
    "CustomizedMetricSpecification": {
        "Metrics": [
            {
                "Id": "backlog",
                "MetricStat": {
                    "Metric": {
                        "MetricName": "BacklogPerInstance",
                        "Namespace": "QueueAutoscaler",
                        "Dimensions": [{"Name": "FleetName", "Value": "asg"}],
                    },
                    "Stat": "Average",
                },
                "ReturnData": True,
            }
        ],
        "Period": 10,
    },
    "TargetValue": 40.0,
    "DisableScaleIn": True,
}


def asg_policy(**extra: Any) -> dict[str, Any]:
    return {
        "AutoScalingGroupName": "asg",
        "PolicyName": "tt",
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingConfiguration": ASG_CONFIG,
        **extra,
    }


def test_asg_put_sends_the_whole_configuration_with_only_the_target_changed():
    autoscaling = client("autoscaling")
    described = {"ScalingPolicies": [asg_policy(EstimatedInstanceWarmup=45, Enabled=False)]}
    with Stubber(autoscaling) as stub:
        stub.add_response(
            "describe_policies", described, {"AutoScalingGroupName": "asg", "PolicyNames": ["tt"]}
        )
        stub.add_response(
            "put_scaling_policy",
            {"PolicyARN": "arn:aws:autoscaling:policy/tt", "Alarms": []},
            {
                "AutoScalingGroupName": "asg",
                "PolicyName": "tt",
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingConfiguration": {**ASG_CONFIG, "TargetValue": 25.5},
                "EstimatedInstanceWarmup": 45,
                "Enabled": False,
            },
        )
        AsgTargetPolicy("asg", "tt", autoscaling).set_target(25.5)
        stub.assert_no_pending_responses()
    assert ASG_CONFIG["TargetValue"] == 40.0  # the described configuration was not mutated


def test_asg_policy_of_another_type_is_not_ours():
    autoscaling = client("autoscaling")
    simple = {"AutoScalingGroupName": "asg", "PolicyName": "tt", "PolicyType": "SimpleScaling"}
    with Stubber(autoscaling) as stub:
        stub.add_response("describe_policies", {"ScalingPolicies": [simple]})
        with pytest.raises(ResourceNotFoundError, match="'tt'"):
            AsgTargetPolicy("asg", "tt", autoscaling).current_target()


ECS_CONFIG: dict[str, Any] = {
    "TargetValue": 12.0,
    "CustomizedMetricSpecification": {
        "MetricName": "BacklogPerInstance",
        "Namespace": "QueueAutoscaler",
        "Dimensions": [{"Name": "FleetName", "Value": "svc"}],
        "Statistic": "Average",
    },
    "ScaleOutCooldown": 60,
    "ScaleInCooldown": 300,
    "DisableScaleIn": False,
}


def ecs_policy(name: str, resource: str = "service/c/svc") -> dict[str, Any]:
    return {
        "PolicyARN": f"arn:aws:autoscaling:policy/{name}",
        "PolicyName": name,
        "ServiceNamespace": "ecs",
        "ResourceId": resource,
        "ScalableDimension": "ecs:service:DesiredCount",
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": ECS_CONFIG,
        "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
    }


def test_ecs_policy_is_found_by_name_across_pages_and_put_back_whole():
    aas = client("application-autoscaling")
    query = {
        "ServiceNamespace": "ecs",
        "ResourceId": "service/c/svc",
        "ScalableDimension": "ecs:service:DesiredCount",
        "PolicyNames": ["tt"],
    }
    with Stubber(aas) as stub:
        # An answer that ignores the name filter (as moto does), on two pages.
        stub.add_response(
            "describe_scaling_policies", {"ScalingPolicies": [ecs_policy("other")], "NextToken": "n"}, query
        )
        stub.add_response(
            "describe_scaling_policies", {"ScalingPolicies": [ecs_policy("tt")]}, {**query, "NextToken": "n"}
        )
        stub.add_response(
            "put_scaling_policy",
            {"PolicyARN": "arn:aws:autoscaling:policy/tt"},
            {
                "PolicyName": "tt",
                "ServiceNamespace": "ecs",
                "ResourceId": "service/c/svc",
                "ScalableDimension": "ecs:service:DesiredCount",
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {**ECS_CONFIG, "TargetValue": 18.0},
            },
        )
        EcsTargetPolicy("c", "svc", "tt", aas).set_target(18.0)
        stub.assert_no_pending_responses()


def test_ecs_policy_missing_when_only_others_exist():
    aas = client("application-autoscaling")
    with Stubber(aas) as stub:
        stub.add_response("describe_scaling_policies", {"ScalingPolicies": [ecs_policy("other")]})
        with pytest.raises(ResourceNotFoundError, match="service/c/svc"):
            EcsTargetPolicy("c", "svc", "tt", aas).current_target()


def test_asg_capacity_counts_in_service_instances_only():
    autoscaling = client("autoscaling")
    instances = [
        {
            "InstanceId": f"i-{state}",
            "AvailabilityZone": "us-east-1a",
            "LifecycleState": state,
            "HealthStatus": "Healthy",
            "ProtectedFromScaleIn": False,
        }
        for state in ("InService", "Pending", "InService", "Terminating", "Warmed:Running")
    ]
    group = {
        "AutoScalingGroupName": "asg",
        "MinSize": 0,
        "MaxSize": 10,
        "DesiredCapacity": 4,
        "DefaultCooldown": 0,
        "AvailabilityZones": ["us-east-1a"],
        "HealthCheckType": "EC2",
        "CreatedTime": datetime(2026, 1, 1, tzinfo=UTC),
        "Instances": instances,
    }
    with Stubber(autoscaling) as stub:
        stub.add_response("describe_auto_scaling_groups", {"AutoScalingGroups": [group]})
        capacity = AsgFleet("asg", autoscaling).capacity()
    assert (capacity.running, capacity.desired) == (2, 4)


def test_inactive_ecs_service_is_missing():
    ecs = client("ecs")
    with Stubber(ecs) as stub:
        stub.add_response(
            "describe_services",
            {
                "services": [
                    {"serviceName": "svc", "status": "INACTIVE", "runningCount": 0, "desiredCount": 0}
                ]
            },
        )
        with pytest.raises(ResourceNotFoundError, match="INACTIVE"):
            EcsServiceFleet("c", "svc", ecs).capacity()


def test_no_duration_data_skips_the_percentile_query():
    cloudwatch = client("cloudwatch")
    with Stubber(cloudwatch) as stub:
        stub.add_response("get_metric_statistics", {"Datapoints": []})
        assert FleetMetrics("ns", "fleet", cloudwatch).duration_stats(datetime.now(UTC), 60, "p90") is None
        stub.assert_no_pending_responses()


def test_window_uses_one_period_spanning_the_lookback():
    cloudwatch = client("cloudwatch")
    end = datetime(2026, 1, 1, 12, tzinfo=UTC)
    window = {
        "Namespace": "ns",
        "MetricName": "MsgProcessingDuration",
        "Dimensions": [{"Name": "FleetName", "Value": "fleet"}],
        "StartTime": end - timedelta(minutes=90),
        "EndTime": end,
        "Period": 5400,
    }
    with Stubber(cloudwatch) as stub:
        stub.add_response(
            "get_metric_statistics",
            {"Datapoints": [{"Average": 4.0, "SampleCount": 100.0, "Maximum": 9.0}]},
            {**window, "Statistics": ["Average", "SampleCount", "Maximum"]},
        )
        stub.add_response(
            "get_metric_statistics",
            {"Datapoints": [{"ExtendedStatistics": {"p99": 8.0}}]},
            {**window, "ExtendedStatistics": ["p99"]},
        )
        stats = FleetMetrics("ns", "fleet", cloudwatch).duration_stats(end, 90, "p99")
    assert stats is not None
    assert (stats.samples, stats.mean_s, stats.max_s, stats.tail_s) == (100, 4.0, 9.0, 8.0)


def test_datapoints_straddling_a_boundary_are_merged_by_sample_count():
    window = combine(
        [
            {"Average": 10.0, "SampleCount": 30.0, "Maximum": 20.0},
            {"Average": 4.0, "SampleCount": 10.0, "Maximum": 50.0},
            {"SampleCount": 0.0},
        ]
    )
    assert window is not None
    assert (window.samples, window.mean_s, window.max_s) == (40, 8.5, 50.0)
    assert combine([]) is None


def test_settled_minutes_merges_result_pages():
    # AWS paginates past MaxDatapoints (and a result may say PartialData): the second page, asked
    # with the NextToken, holds the older minutes of both series
    cloudwatch = client("cloudwatch")
    end = datetime(2026, 1, 1, 12, 0, 40, tzinfo=UTC)
    minute = end.replace(second=0)
    ago = [minute - timedelta(minutes=back) for back in range(1, 6)]
    fleet = {"Namespace": "ns", "Dimensions": [{"Name": "FleetName", "Value": "fleet"}]}
    request = {
        "MetricDataQueries": [
            {
                "Id": series,
                "MetricStat": {"Metric": {**fleet, "MetricName": metric}, "Period": 60, "Stat": stat},
                "ReturnData": True,
            }
            for series, metric, stat in (
                ("running", "RunningCapacity", "Minimum"),
                ("desired", "DesiredCapacity", "Maximum"),
            )
        ],
        "StartTime": minute - timedelta(minutes=5),
        "EndTime": minute,
        "ScanBy": "TimestampDescending",
    }

    def page(timestamps: list[datetime], running: list[float], desired: list[float]) -> list[Any]:
        return [
            {"Id": "running", "Timestamps": timestamps, "Values": running, "StatusCode": "PartialData"},
            {"Id": "desired", "Timestamps": timestamps, "Values": desired, "StatusCode": "PartialData"},
        ]

    with Stubber(cloudwatch) as stub:
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": page(ago[:2], [2.0, 2.0], [2.0, 2.0]), "NextToken": "more"},
            request,
        )
        # minute 4 ago booting: the run is 3 long
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": page(ago[2:], [2.0, 1.0, 2.0], [2.0, 2.0, 2.0])},
            {**request, "NextToken": "more"},
        )
        assert FleetMetrics("ns", "fleet", cloudwatch).settled_minutes(end, 5) == 3
        stub.assert_no_pending_responses()
