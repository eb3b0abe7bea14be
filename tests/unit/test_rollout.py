"""EC2 rollout: which instances a new launch template version leaves behind, the refresh it starts,
and which events start one (a completed stack update, a refresh that succeeded; never a rollback).

moto stores groups and launch template versions but does not implement instance refreshes, so the
refresh call goes through botocore's Stubber (which checks it against the service model) with the
group moto describes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from queue_autoscaler.adapters.rollout import AsgRollout
from queue_autoscaler.fleet_rollout.app import roll_out
from queue_autoscaler.scaling.rollout import (
    PREFERENCES,
    STACK_STATUS_CHANGE,
    FleetInstance,
    outdated,
    rollout_reason,
    skipped_because,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"
STACK_UPDATED = json.loads((EVENTS / "fleet_rollout_stack_updated.json").read_text())
REFRESH_SUCCEEDED = json.loads((EVENTS / "fleet_rollout_refresh_succeeded.json").read_text())

REGION = "us-east-1"
GROUP = "qas-workers"
EXPECTED_PREFERENCES = {
    "MinHealthyPercentage": 100,
    "MaxHealthyPercentage": 200,
    "InstanceWarmup": 60,
    "SkipMatching": True,
    "ScaleInProtectedInstances": "Refresh",
    "StandbyInstances": "Ignore",
}


def test_outdated_are_running_instances_on_another_version() -> None:
    instances = [
        FleetInstance("i-old", "InService", "1"),
        FleetInstance("i-new", "InService", "2"),
        FleetInstance("i-booting-old", "Pending", "1"),
        FleetInstance("i-leaving", "Terminating", "1"),
        FleetInstance("i-unknown", "InService", None),
    ]
    assert outdated("2", instances) == ("i-old", "i-booting-old", "i-unknown")
    assert outdated("2", []) == ()


def test_busy_workers_are_replaced_through_the_drain_hook_and_capacity_never_drops() -> None:
    # Wait would hold the refresh on every busy (protected) worker for an hour, then fail it: under
    # a steady backlog a worker is never idle. Refresh replaces it through the termination hook.
    assert PREFERENCES.scale_in_protected_instances == "Refresh"
    assert PREFERENCES.min_healthy_percentage == 100
    assert PREFERENCES.max_healthy_percentage > 100
    assert PREFERENCES.skip_matching


def _with_status(event: dict[str, Any], status: str) -> dict[str, Any]:
    return {**event, "detail": {**event["detail"], "status-details": {"status": status}}}


def test_which_events_start_a_rollout() -> None:
    assert rollout_reason(STACK_UPDATED) is not None
    assert rollout_reason(REFRESH_SUCCEEDED) is not None
    assert rollout_reason({}) is not None  # `aws lambda invoke` by hand
    assert rollout_reason(_with_status(STACK_UPDATED, "UPDATE_ROLLBACK_COMPLETE")) is None
    assert rollout_reason(_with_status(STACK_UPDATED, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")) is None
    group_updated = {
        "detail-type": "CloudFormation Resource Status Change",
        "detail": {"logical-resource-id": "WorkerGroup", "status-details": {"status": "UPDATE_COMPLETE"}},
    }
    assert rollout_reason(group_updated) is None  # also emitted when a rollback updates the group back
    assert (
        rollout_reason({**REFRESH_SUCCEEDED, "detail-type": "EC2 Auto Scaling Instance Refresh Failed"})
        is None
    )


def test_the_reason_and_the_skip_are_logged_in_words() -> None:
    # roll_out returns and logs these: the reason a refresh started, or why none did.
    assert rollout_reason(STACK_UPDATED) == "the stack update completed"
    assert rollout_reason(REFRESH_SUCCEEDED) == "the previous instance refresh succeeded"
    assert rollout_reason({}) == "invoked directly"
    rolled_back = _with_status(STACK_UPDATED, "UPDATE_ROLLBACK_COMPLETE")
    assert skipped_because(rolled_back) == "UPDATE_ROLLBACK_COMPLETE of the stack is not a completed update"


def test_an_event_without_a_status_starts_nothing_and_raises_nothing() -> None:
    # An instance refresh event's detail has no status-details (events/fleet_rollout_refresh_succeeded.json);
    # a stack event without one, or without a detail, is no completed update either.
    assert rollout_reason({"detail-type": STACK_STATUS_CHANGE, "detail": {"stack-id": "qas"}}) is None
    assert rollout_reason({"detail-type": STACK_STATUS_CHANGE}) is None
    failed = {**REFRESH_SUCCEEDED, "detail-type": "EC2 Auto Scaling Instance Refresh Failed"}
    assert skipped_because(failed) == "EC2 Auto Scaling Instance Refresh Failed starts no rollout"
    assert skipped_because({"detail-type": "Scheduled Event"}) == "Scheduled Event starts no rollout"


def _described_group_after_an_update() -> dict[str, Any]:
    """moto's answer for a group with 2 instances on version 1 and the group moved to version 2."""
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        autoscaling = boto3.client("autoscaling", region_name=REGION)
        template = ec2.create_launch_template(
            LaunchTemplateName="workers",
            LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
        )["LaunchTemplate"]
        spec = {"LaunchTemplateId": template["LaunchTemplateId"], "Version": "1"}
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=GROUP,
            MinSize=0,
            MaxSize=4,
            DesiredCapacity=2,
            MixedInstancesPolicy={"LaunchTemplate": {"LaunchTemplateSpecification": spec}},
            AvailabilityZones=[f"{REGION}a"],
        )
        ec2.create_launch_template_version(
            LaunchTemplateId=template["LaunchTemplateId"], LaunchTemplateData={"ImageId": "ami-12c6146b"}
        )
        autoscaling.update_auto_scaling_group(
            AutoScalingGroupName=GROUP,
            MixedInstancesPolicy={
                "LaunchTemplate": {"LaunchTemplateSpecification": {**spec, "Version": "2"}}
            },
        )
        response = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])
    response.pop("ResponseMetadata")
    return response


def test_an_update_to_a_new_version_starts_one_safe_refresh() -> None:
    described = _described_group_after_an_update()
    instances = described["AutoScalingGroups"][0]["Instances"]
    assert {instance["LaunchTemplate"]["Version"] for instance in instances} == {"1"}
    client = boto3.client("autoscaling", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_response("describe_auto_scaling_groups", described)
        stub.add_response(
            "start_instance_refresh",
            {"InstanceRefreshId": "refresh-1"},
            {"AutoScalingGroupName": GROUP, "Strategy": "Rolling", "Preferences": EXPECTED_PREFERENCES},
        )
        result = roll_out(AsgRollout(GROUP, client), STACK_UPDATED)
        stub.assert_no_pending_responses()
    assert result["refresh_id"] == "refresh-1"
    assert sorted(result["outdated"]) == sorted(instance["InstanceId"] for instance in instances)
    assert result["version"] == "2"


def test_a_current_fleet_starts_nothing() -> None:
    described = _described_group_after_an_update()
    group = described["AutoScalingGroups"][0]
    group["MixedInstancesPolicy"]["LaunchTemplate"]["LaunchTemplateSpecification"]["Version"] = "1"
    client = boto3.client("autoscaling", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_response("describe_auto_scaling_groups", described)
        assert roll_out(AsgRollout(GROUP, client), STACK_UPDATED)["refresh_id"] is None
        stub.assert_no_pending_responses()  # and no refresh was asked for


def test_a_rollback_reads_nothing_and_starts_nothing() -> None:
    client = boto3.client("autoscaling", region_name=REGION)
    with Stubber(client):  # any call would fail: the Stubber has no response queued
        result = roll_out(AsgRollout(GROUP, client), _with_status(STACK_UPDATED, "UPDATE_ROLLBACK_COMPLETE"))
    assert result == {"skipped": "UPDATE_ROLLBACK_COMPLETE of the stack is not a completed update"}


def test_a_refresh_refused_as_in_progress_is_started_when_that_one_succeeds() -> None:
    # Given an update that completes while an earlier refresh still runs
    described = _described_group_after_an_update()
    client = boto3.client("autoscaling", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_response("describe_auto_scaling_groups", described)
        stub.add_client_error("start_instance_refresh", "InstanceRefreshInProgress", http_status_code=400)
        deferred = roll_out(AsgRollout(GROUP, client), STACK_UPDATED)
        # When that refresh succeeds (it replaced only what was outdated when it started)
        stub.add_response("describe_auto_scaling_groups", described)
        stub.add_response(
            "start_instance_refresh",
            {"InstanceRefreshId": "refresh-2"},
            {"AutoScalingGroupName": GROUP, "Strategy": "Rolling", "Preferences": EXPECTED_PREFERENCES},
        )
        followed = roll_out(AsgRollout(GROUP, client), REFRESH_SUCCEEDED)
        stub.assert_no_pending_responses()
    # Then the first run says it waits for that event, and the second starts the refresh
    assert deferred["refresh_id"] is None and "succeeds" in deferred["deferred"]
    assert followed["refresh_id"] == "refresh-2" and "deferred" not in followed


def test_a_running_refresh_is_left_alone_but_other_errors_fail() -> None:
    client = boto3.client("autoscaling", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_client_error("start_instance_refresh", "InstanceRefreshInProgress", http_status_code=400)
        assert AsgRollout(GROUP, client).start_refresh(PREFERENCES) is None
        stub.add_client_error("start_instance_refresh", "ResourceContention", http_status_code=500)
        with pytest.raises(client.exceptions.ClientError):
            AsgRollout(GROUP, client).start_refresh(PREFERENCES)
