"""`qas doctor fleet` on an ECS service: each risk of attaching the stack to an existing service is
reported with its fix; a clean service gives no finding.

moto leaves out what some risks need: it drops a service's `deploymentConfiguration` (the circuit
breaker), runs no task and has no `GetTaskProtection`. Those decisions are tested on the snapshot's
plain values, and the reader's protection count with botocore's Stubber.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from qas.doctor import fleet_reader
from qas.doctor.findings import Severity
from qas.doctor.fleet import EcsSnapshot, ManagedBy, check_ecs
from tests.doctor.fleet_account import (
    ATTACH,
    PROJECT_WORKER,
    REGION,
    STACK,
    Account,
    ecs_findings,
    moto_account,
    one,
)


@pytest.fixture
def account() -> Iterator[Account]:
    yield from moto_account()


def test_a_clean_service_has_no_finding(account: Account) -> None:
    account.service()
    assert ecs_findings(account) == []


def test_another_application_auto_scaling_policy_fights_the_stack(account: Account) -> None:
    resource = account.register(account.service(), 0, 10)
    aas = account.client("application-autoscaling")
    for policy in ("worker-ECSServiceAverageCPUUtilization-ScalingPolicy", f"{STACK}-backlog-tracking"):
        aas.put_scaling_policy(
            PolicyName=policy,
            ServiceNamespace="ecs",
            ResourceId=resource,
            ScalableDimension="ecs:service:DesiredCount",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 70,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
            },
        )
    one(
        ecs_findings(account),
        Severity.PROBLEM,
        "worker-ECSServiceAverageCPUUtilization-ScalingPolicy",
        "delete-scaling-policy",
    )


def test_a_scheduled_action_on_the_service_is_reported(account: Account) -> None:
    resource = account.register(account.service(), 0, 10)
    account.client("application-autoscaling").put_scheduled_action(
        ServiceNamespace="ecs",
        ScheduledActionName="weekend",
        ResourceId=resource,
        ScalableDimension="ecs:service:DesiredCount",
        Schedule="cron(0 0 ? * SAT *)",
        ScalableTargetAction={"MinCapacity": 0, "MaxCapacity": 1},
    )
    one(ecs_findings(account), Severity.PROBLEM, "weekend", "min 0, max 1", "delete-scheduled-action")


def test_a_registered_range_other_than_the_stacks_is_noted(account: Account) -> None:
    account.register(account.service("same"), 0, 10)
    assert ecs_findings(account, "same") == []
    account.register(account.service(), 1, 4)
    one(
        ecs_findings(account),
        Severity.NOTE,
        "between 1 and 4",
        "0 and MaxCapacity=10",
        "MaxCapacity 4 keeps its maximum",
    )


def test_a_desired_count_the_services_stack_sends_again_resets_the_fleet(account: Account) -> None:
    """A fixed count, here a parameter as Copilot gives a service without autoscaling."""
    definition = account.ecs.register_task_definition(
        family="legacy", containerDefinitions=[{"name": "w", "image": "w", "memory": 512}]
    )["taskDefinition"]["taskDefinitionArn"]
    template = {
        "Parameters": {"TaskCount": {"Type": "Number", "Default": 2}},
        "Resources": {
            "Service": {
                "Type": "AWS::ECS::Service",
                "Properties": {
                    "Cluster": "jobs",
                    "TaskDefinition": definition,
                    "DesiredCount": {"Ref": "TaskCount"},
                },
            }
        },
    }
    cfn = account.client("cloudformation")
    cfn.create_stack(StackName="app-test-worker", TemplateBody=json.dumps(template))
    arn = cfn.describe_stack_resource(StackName="app-test-worker", LogicalResourceId="Service")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    name = arn.rsplit("/", 1)[-1]
    assert name.startswith("app-test-worker-Service-")  # the name CloudFormation generates
    assert all(
        "DesiredCount" not in f.what for f in ecs_findings(account, name)
    )  # not known to be managed yet
    account.ecs.tag_resource(  # what CloudFormation adds (moto does not)
        resourceArn=arn,
        tags=[
            {"key": fleet_reader.STACK_TAG, "value": "app-test-worker"},
            {"key": fleet_reader.LOGICAL_ID_TAG, "value": "Service"},
        ],
    )
    resets = [f for f in ecs_findings(account, name) if "DesiredCount" in f.what]
    one(
        resets,
        Severity.PROBLEM,
        "Service in stack app-test-worker",
        "DesiredCount: 2",
        "resets the fleet to 2",
    )


def _service(**values: Any) -> EcsSnapshot:
    clean: dict[str, Any] = {
        "cluster": "jobs",
        "service": "worker",
        "deployment_controller": "ECS",
        "circuit_breaker": True,
        "environment": PROJECT_WORKER,
        "running_tasks": 3,
        "protected_tasks": 1,
    }
    return EcsSnapshot(**(clean | values))


def test_a_computed_desired_count_is_noted_not_refused() -> None:
    """Copilot's autoscaled services take DesiredCount from a custom resource that reads the running
    count at each deploy (moto cannot run that custom resource)."""
    computed = ManagedBy(
        "app-test-worker", "Service", {"Fn::GetAtt": ["DynamicDesiredCountAction", "DesiredCount"]}
    )
    one(
        check_ecs(_service(managed_by=computed), ATTACH),
        Severity.NOTE,
        "computes DesiredCount",
        "DynamicDesiredCountAction",
    )
    absent = ManagedBy("app-test-worker", "Service", None)
    assert check_ecs(_service(managed_by=absent), ATTACH) == []


def test_the_circuit_breaker_off_is_a_problem_on_rolling_deployments_only() -> None:
    one(
        check_ecs(_service(circuit_breaker=False), ATTACH),
        Severity.PROBLEM,
        "circuit breaker off",
        "enable=true",
    )
    assert check_ecs(_service(circuit_breaker=False, deployment_controller="CODE_DEPLOY"), ATTACH) == []


def test_a_service_whose_tasks_take_no_protection_loses_jobs_on_scale_in(account: Account) -> None:
    account.service("copilot", {"COPILOT_QUEUE_URI": "https://sqs.us-east-1.amazonaws.com/1/q"})
    one(
        ecs_findings(account, "copilot"),
        Severity.PROBLEM,
        "no task of copilot is protected",
        "task-protection/v1/state",
    )


@pytest.mark.parametrize(
    ("longest_h", "severity", "words"),
    [
        (3, Severity.NOTE, ("takes 180 min", "lasts 120 min", "at least 180")),
        (50, Severity.PROBLEM, ("takes 3000 min", "2880 min (48 h)", "at least 2880")),
    ],
)
def test_a_protection_shorter_than_the_longest_job(
    longest_h: float, severity: Severity, words: tuple[str, ...]
) -> None:
    """ExpiresInMinutes is 120 when the worker gives none (it may give more), and never over 2,880."""
    snapshot = _service(environment={}, protected_tasks=2)
    attach = dataclasses.replace(ATTACH, longest_job_s=longest_h * 3600)
    one(check_ecs(snapshot, attach), severity, *words)


def test_a_protection_that_outlasts_the_job_or_is_renewed_is_enough() -> None:
    attach = dataclasses.replace(ATTACH, longest_job_s=2 * 3600)
    assert check_ecs(_service(environment={}, protected_tasks=1), attach) == []  # 120 min covers 2 h
    longer = dataclasses.replace(ATTACH, longest_job_s=50 * 3600)
    assert check_ecs(_service(), longer) == []  # the project's worker renews at half the expiry
    assert check_ecs(_service(environment={}, protected_tasks=1), ATTACH) == []  # no job length given


def test_the_reader_counts_protected_running_tasks_ten_at_a_time(account: Account) -> None:
    """moto runs no task and has no GetTaskProtection: botocore's Stubber answers for ECS, checked
    against the service model; Application Auto Scaling stays on moto."""
    ecs = boto3.client("ecs", region_name=REGION)
    stub = Stubber(ecs)
    arns = [f"arn:aws:ecs:{REGION}:123456789012:task/jobs/t{i:02d}" for i in range(12)]
    definition = f"arn:aws:ecs:{REGION}:123456789012:task-definition/worker:3"
    stub.add_response(
        "describe_services",
        {
            "services": [
                {
                    "serviceName": "worker",
                    "status": "ACTIVE",
                    "taskDefinition": definition,
                    "deploymentController": {"type": "ECS"},
                    "deploymentConfiguration": {
                        "deploymentCircuitBreaker": {"enable": True, "rollback": True}
                    },
                }
            ],
            "failures": [],
        },
        {"cluster": "jobs", "services": ["worker"], "include": ["TAGS"]},
    )
    stub.add_response(
        "describe_task_definition",
        {
            "taskDefinition": {
                "containerDefinitions": [{"name": "w", "environment": [{"name": "A", "value": "1"}]}]
            }
        },
        {"taskDefinition": definition},
    )
    stub.add_response(
        "list_tasks",
        {"taskArns": arns},
        {"cluster": "jobs", "serviceName": "worker", "desiredStatus": "RUNNING"},
    )
    for batch, protected in ((arns[:10], arns[:3]), (arns[10:], arns[10:11])):
        stub.add_response(
            "get_task_protection",
            {"protectedTasks": [{"taskArn": arn, "protectionEnabled": arn in protected} for arn in batch]},
            {"cluster": "jobs", "tasks": batch},
        )

    class Session(Account):
        def client(self, name: str) -> Any:
            return ecs if name == "ecs" else super().client(name)

    session = Session.__new__(Session)
    session.session, session.region_name = account.session, REGION
    with stub:
        snapshot = fleet_reader.read_ecs(session, "jobs", "worker")
    stub.assert_no_pending_responses()
    assert (snapshot.running_tasks, snapshot.protected_tasks, snapshot.circuit_breaker) == (12, 4, True)
    assert snapshot.environment == {"A": "1"} and snapshot.target is None and snapshot.managed_by is None
    assert check_ecs(snapshot, ATTACH) == []  # protected tasks, no job length given: nothing to say
