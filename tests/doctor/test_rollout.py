"""`qas doctor stack`'s rollout check: a deployment or refresh held by busy (protected) workers.

moto runs no ECS tasks, implements neither task protection nor instance refreshes: botocore's
Stubber answers, checked against the service models.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.stub import Stubber

from qas.doctor.findings import Severity
from qas.doctor.rollout import STUCK_AFTER, ec2_rollout, ecs_deployment

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
CLUSTER, SERVICE, GROUP = "qas-cluster", "qas-workers", "qas-workers"
TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/qas-worker:{}"
TASK = "arn:aws:ecs:us-east-1:123456789012:task/qas-cluster/{}"


def _service(*deployments: dict[str, Any]) -> dict[str, Any]:
    return {"services": [{"serviceName": SERVICE, "deployments": list(deployments)}], "failures": []}


def _deployment(status: str, revision: int, age: timedelta, state: str = "IN_PROGRESS") -> dict[str, Any]:
    return {
        "id": f"ecs-svc/{revision}",
        "status": status,
        "taskDefinition": TD.format(revision),
        "createdAt": NOW - age,
        "rolloutState": state,
        "rolloutStateReason": "tasks failed to start" if state == "FAILED" else "",
    }


def _ecs_rollout(age: timedelta, protected: bool) -> tuple[Any, Stubber]:
    ecs = boto3.client("ecs", region_name="us-east-1")
    stub = Stubber(ecs)
    stub.add_response(
        "describe_services",
        _service(_deployment("PRIMARY", 2, age), _deployment("ACTIVE", 1, timedelta(days=3), "COMPLETED")),
        {"cluster": CLUSTER, "services": [SERVICE]},
    )
    arns = [TASK.format(name) for name in ("old-a", "old-b", "new-a")]
    stub.add_response(
        "list_tasks",
        {"taskArns": arns},
        {"cluster": CLUSTER, "serviceName": SERVICE, "desiredStatus": "RUNNING"},
    )
    tasks = [{"taskArn": arn, "taskDefinitionArn": TD.format(2 if "new" in arn else 1)} for arn in arns]
    stub.add_response("describe_tasks", {"tasks": tasks, "failures": []}, {"cluster": CLUSTER, "tasks": arns})
    stub.add_response(
        "get_task_protection",
        {
            "protectedTasks": [
                {
                    "taskArn": arns[0],
                    "protectionEnabled": protected,
                    "expirationDate": NOW + timedelta(minutes=50),
                },
                {"taskArn": arns[1], "protectionEnabled": False},
            ],
            "failures": [],
        },
        {"cluster": CLUSTER, "tasks": arns[:2]},
    )
    return ecs, stub


def test_a_deployment_held_by_protected_old_tasks_is_a_problem_with_the_way_out() -> None:
    ecs, stub = _ecs_rollout(STUCK_AFTER + timedelta(minutes=5), protected=True)
    with stub:
        finding = ecs_deployment(ecs, CLUSTER, SERVICE, NOW)
        stub.assert_no_pending_responses()
    assert finding.severity is Severity.PROBLEM
    assert (
        "has run for 35 min; 2 task(s) of an older task definition still run, 1 of them protected"
        in finding.what
    )
    assert "until 2026-01-15T12:50+00:00" in finding.what
    assert finding.fix.endswith(
        f"update-task-protection --cluster {CLUSTER} --no-protection-enabled --tasks old-a"
    )


def test_a_young_deployment_or_unprotected_old_tasks_are_only_noted() -> None:
    for age, protected in ((STUCK_AFTER - timedelta(minutes=1), True), (timedelta(hours=2), False)):
        ecs, stub = _ecs_rollout(age, protected)
        with stub:
            finding = ecs_deployment(ecs, CLUSTER, SERVICE, NOW)
        assert finding.severity is Severity.NOTE, (age, protected)


def test_a_settled_or_failed_deployment() -> None:
    ecs = boto3.client("ecs", region_name="us-east-1")
    with Stubber(ecs) as stub:
        stub.add_response(
            "describe_services", _service(_deployment("PRIMARY", 3, timedelta(days=1), "COMPLETED"))
        )
        settled = ecs_deployment(ecs, CLUSTER, SERVICE, NOW)
        stub.add_response(
            "describe_services",
            _service(
                _deployment("PRIMARY", 4, timedelta(minutes=9), "FAILED"),
                _deployment("ACTIVE", 3, timedelta(days=1)),
            ),
        )
        failed = ecs_deployment(ecs, CLUSTER, SERVICE, NOW)
    assert settled.severity is Severity.OK and TD.format(3) in settled.what
    assert failed.severity is Severity.PROBLEM and "tasks failed to start" in failed.what


def _group(*instances: tuple[str, str, bool], version: str = "3") -> dict[str, Any]:
    return {
        "AutoScalingGroups": [
            {
                "AutoScalingGroupName": GROUP,
                "MinSize": 0,
                "MaxSize": 10,
                "DesiredCapacity": len(instances),
                "DefaultCooldown": 300,
                "AvailabilityZones": ["us-east-1a"],
                "HealthCheckType": "EC2",
                "CreatedTime": NOW - timedelta(days=9),
                "MixedInstancesPolicy": {
                    "LaunchTemplate": {
                        "LaunchTemplateSpecification": {"LaunchTemplateId": "lt-1", "Version": version}
                    }
                },
                "Instances": [
                    {
                        "InstanceId": instance_id,
                        "AvailabilityZone": "us-east-1a",
                        "LifecycleState": "InService",
                        "HealthStatus": "Healthy",
                        "ProtectedFromScaleIn": protected,
                        "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": instance_version},
                    }
                    for instance_id, instance_version, protected in instances
                ],
            }
        ]
    }


def _refresh(status: str, preference: str | None = None) -> dict[str, Any]:
    refresh: dict[str, Any] = {
        "InstanceRefreshId": "r-9",
        "AutoScalingGroupName": GROUP,
        "Status": status,
        "PercentageComplete": 40,
    }
    if status == "Failed":
        refresh["StatusReason"] = "an instance was protected from scale in for over an hour"
    if preference:
        refresh["Preferences"] = {"ScaleInProtectedInstances": preference}
    return {"InstanceRefreshes": [refresh]}


def _ec2(group: dict[str, Any], refreshes: dict[str, Any]) -> Any:
    autoscaling = boto3.client("autoscaling", region_name="us-east-1")
    with Stubber(autoscaling) as stub:
        stub.add_response("describe_auto_scaling_groups", group, {"AutoScalingGroupNames": [GROUP]})
        stub.add_response(
            "describe_instance_refreshes", refreshes, {"AutoScalingGroupName": GROUP, "MaxRecords": 1}
        )
        finding = ec2_rollout(autoscaling, "qas", GROUP)
        stub.assert_no_pending_responses()
    return finding


def test_a_refresh_waiting_on_busy_instances_is_a_problem() -> None:
    busy_old = _group(("i-old", "2", True), ("i-new", "3", False))
    waiting = _ec2(busy_old, _refresh("InProgress", "Wait"))
    assert waiting.severity is Severity.PROBLEM and "waits on 1 busy" in waiting.what
    assert "cancel-instance-refresh" in waiting.fix and "qas-fleet-rollout" in waiting.fix
    # The rollout's own preference (Refresh) goes through them: only in progress.
    assert _ec2(busy_old, _refresh("InProgress", "Refresh")).severity is Severity.NOTE
    # An idle old instance does not hold a Wait refresh either.
    assert _ec2(_group(("i-old", "2", False)), _refresh("InProgress", "Wait")).severity is Severity.NOTE


def test_a_failed_refresh_or_instances_left_behind_are_problems() -> None:
    failed = _ec2(_group(("i-old", "2", True)), _refresh("Failed"))
    assert failed.severity is Severity.PROBLEM and "protected from scale in for over an hour" in failed.what
    assert failed.fix.endswith("aws lambda invoke --function-name qas-fleet-rollout /dev/stdout")
    left = _ec2(_group(("i-old", "2", False), ("i-new", "3", False)), _refresh("Successful"))
    assert (
        left.severity is Severity.PROBLEM
        and "1 instance(s) run an older launch template version" in left.what
    )
    current = _ec2(_group(("i-new", "3", True)), {"InstanceRefreshes": []})
    assert current.severity is Severity.OK and "version 3" in current.what
