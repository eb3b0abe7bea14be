"""`qas doctor fleet`: each risk of attaching the stack to an existing group or service, built on moto
(`mock_aws`, in-process), is reported with its fix; a clean fleet gives no finding.

moto leaves out what some risks need: it drops an ECS service's `deploymentConfiguration` (the circuit
breaker), runs no ECS task and has no `GetTaskProtection`, and does not tag what CloudFormation creates
with `aws:cloudformation:*` (the tests tag it as CloudFormation does). Those decisions are tested on the
snapshot's plain values.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from qas.doctor import cli, fleet_reader
from qas.doctor.findings import Finding, Severity
from qas.doctor.fleet import (
    LAUNCHING,
    TERMINATING,
    Attach,
    EcsSnapshot,
    ManagedBy,
    check_asg,
    check_ecs,
)

REGION = "us-east-1"
STACK = "qas"
ATTACH = Attach(max_capacity=10, boot_s=120, stack_name=STACK)
PROJECT_WORKER = {"WORKER_PLATFORM": "ECS", "FLEET_NAME": "workers", "WORKER_CONCURRENCY": "2"}


class Account:
    def __init__(self, session: boto3.Session) -> None:
        self.session = session
        self.region_name = REGION
        ec2 = session.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{REGION}a")[
            "Subnet"
        ]["SubnetId"]
        ec2.create_launch_template(
            LaunchTemplateName="workers",
            LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "c6i.large"},
        )
        self.ecs = session.client("ecs")
        self.ecs.create_cluster(clusterName="jobs")

    def client(self, name: str) -> Any:
        return self.session.client(name)  # type: ignore[call-overload]

    def group(
        self, name: str = "workers", *, hooks: tuple[str, ...] = (TERMINATING,), **settings: Any
    ) -> str:
        """A clean group by default: 0..10, a drain hook, new instances protected, grace over the boot."""
        autoscaling = self.session.client("autoscaling")
        arguments: dict[str, Any] = {
            "MinSize": 0,
            "MaxSize": 10,
            "DesiredCapacity": 0,
            "HealthCheckType": "EC2",
            "HealthCheckGracePeriod": 300,
            "NewInstancesProtectedFromScaleIn": True,
            "CapacityRebalance": False,
        }
        arguments.update(settings)
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": "workers"},
            VPCZoneIdentifier=self.subnet,
            **arguments,
        )
        for transition in hooks:
            autoscaling.put_lifecycle_hook(
                AutoScalingGroupName=name,
                LifecycleHookName=transition.rsplit("_", 1)[-1].lower(),
                LifecycleTransition=transition,
                HeartbeatTimeout=300,
            )
        return name

    def service(self, name: str = "worker", environment: dict[str, str] | None = None) -> str:
        variables = PROJECT_WORKER if environment is None else environment
        definition = self.ecs.register_task_definition(
            family=name,
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": "worker",
                    "image": "worker:v1",
                    "environment": [{"name": k, "value": v} for k, v in variables.items()],
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        self.ecs.create_service(cluster="jobs", serviceName=name, taskDefinition=definition, desiredCount=0)
        return name

    def register(self, service: str, low: int, high: int) -> str:
        resource = f"service/jobs/{service}"
        self.session.client("application-autoscaling").register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=resource,
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=low,
            MaxCapacity=high,
        )
        return resource


@pytest.fixture
def account() -> Iterator[Account]:
    with mock_aws():
        yield Account(boto3.Session(region_name=REGION))


def _asg(account: Account, name: str = "workers", attach: Attach = ATTACH) -> list[Finding]:
    return check_asg(fleet_reader.read_asg(account, name), attach)


def _ecs(account: Account, service: str = "worker", **fixed: Any) -> list[Finding]:
    # moto drops deploymentConfiguration: a clean service has its circuit breaker on.
    snapshot = dataclasses.replace(
        fleet_reader.read_ecs(account, "jobs", service), circuit_breaker=True, **fixed
    )
    return check_ecs(snapshot, ATTACH)


def _one(findings: list[Finding], severity: Severity, *words: str) -> Finding:
    assert len(findings) == 1, findings
    finding = findings[0]
    assert finding.severity is severity, finding
    for word in words:
        assert word in finding.what + finding.fix, (word, finding)
    return finding


# ---------------------------------------------------------------------------------------- EC2


def test_a_clean_group_has_no_finding(account: Account) -> None:
    account.group()
    assert _asg(account) == []


def test_another_scaling_policy_fights_the_stack_but_the_stacks_own_does_not(account: Account) -> None:
    autoscaling = account.client("autoscaling")
    name = account.group()
    for policy in ("cpu-tracking", f"{STACK}-Ec2TrackingPolicy-1ABC"):
        autoscaling.put_scaling_policy(
            AutoScalingGroupName=name,
            PolicyName=policy,
            PolicyType="TargetTrackingScaling",
            TargetTrackingConfiguration={
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"},
                "TargetValue": 50,
            },
        )
    _one(_asg(account), Severity.PROBLEM, "cpu-tracking", "TargetTrackingScaling", "delete-policy")


def test_the_stack_named_on_the_command_line_owns_its_policies(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    name = account.group()
    account.client("autoscaling").put_scaling_policy(
        AutoScalingGroupName=name,
        PolicyName="jobs-Ec2FastLanePolicy-9XYZ",
        AdjustmentType="ChangeInCapacity",
        PolicyType="StepScaling",
        StepAdjustments=[{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
    )
    argv = ["fleet", "--asg", name, "--region", REGION, "--boot-seconds", "60"]
    assert cli.main(argv) == 1
    assert "jobs-Ec2FastLanePolicy-9XYZ (StepScaling)" in capsys.readouterr().out
    assert cli.main([*argv, "--stack", "jobs"]) == 0


def test_a_scheduled_action_is_reported_with_what_it_sets(account: Account) -> None:
    name = account.group()
    account.client("autoscaling").put_scheduled_update_group_action(
        AutoScalingGroupName=name,
        ScheduledActionName="nightly",
        Recurrence="0 22 * * *",
        MinSize=2,
        MaxSize=4,
    )
    _one(_asg(account), Severity.PROBLEM, "nightly", "0 22 * * *", "min 2, max 4", "delete-scheduled-action")


def test_max_size_below_max_capacity_caps_every_scale_out(account: Account) -> None:
    account.group(MaxSize=4)
    _one(_asg(account), Severity.PROBLEM, "MaxSize (4) is below MaxCapacity (10)", "--max-size 10")


def test_max_size_above_max_capacity_and_a_min_size_are_noted(account: Account) -> None:
    account.group(MinSize=1, MaxSize=20, DesiredCapacity=1)
    findings = _asg(account)
    assert [f.severity for f in findings] == [Severity.NOTE, Severity.NOTE]
    assert "MaxSize (20) is above MaxCapacity (10)" in findings[0].what
    assert "never to zero" in findings[1].what and "--min-size 0" in findings[1].fix


def test_a_desired_capacity_that_cloudformation_resets_is_reported(account: Account) -> None:
    cfn = account.client("cloudformation")
    template = {
        "Resources": {
            "Workers": {
                "Type": "AWS::AutoScaling::AutoScalingGroup",
                "Properties": {
                    "MinSize": "0",
                    "MaxSize": "10",
                    "DesiredCapacity": "3",
                    "LaunchTemplate": {"LaunchTemplateName": "workers", "Version": "1"},
                    "VPCZoneIdentifier": [account.subnet],
                },
            }
        }
    }
    cfn.create_stack(StackName="legacy", TemplateBody=json.dumps(template))
    name = cfn.describe_stack_resource(StackName="legacy", LogicalResourceId="Workers")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    autoscaling = account.client("autoscaling")
    autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, NewInstancesProtectedFromScaleIn=True)
    autoscaling.put_lifecycle_hook(
        AutoScalingGroupName=name,
        LifecycleHookName="drain",
        LifecycleTransition=TERMINATING,
        HeartbeatTimeout=300,
    )
    assert all("DesiredCapacity" not in f.what for f in _asg(account, name))  # not known to be managed yet
    autoscaling.create_or_update_tags(  # what CloudFormation adds (moto does not)
        Tags=[
            {
                "ResourceId": name,
                "ResourceType": "auto-scaling-group",
                "Key": key,
                "Value": value,
                "PropagateAtLaunch": False,
            }
            for key, value in ((fleet_reader.STACK_TAG, "legacy"), (fleet_reader.LOGICAL_ID_TAG, "Workers"))
        ]
    )
    resets = [f for f in _asg(account, name) if "DesiredCapacity" in f.what]
    _one(resets, Severity.PROBLEM, "Workers in stack legacy", "DesiredCapacity: 3", "resets the fleet to 3")


def test_no_termination_hook_loses_running_jobs(account: Account) -> None:
    account.group(hooks=())
    _one(_asg(account), Severity.PROBLEM, "no termination lifecycle hook", TERMINATING)


def test_no_scale_in_protection_is_noted(account: Account) -> None:
    account.group(NewInstancesProtectedFromScaleIn=False)
    _one(_asg(account), Severity.NOTE, "protected from scale-in", "SetInstanceProtection")


def test_a_protected_instance_shows_the_worker_protects_itself(account: Account) -> None:
    name = account.group("busy", NewInstancesProtectedFromScaleIn=False, DesiredCapacity=1, MinSize=0)
    autoscaling = account.client("autoscaling")
    instance = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0][
        "Instances"
    ][0]["InstanceId"]
    assert _asg(account, name) != []
    autoscaling.set_instance_protection(
        AutoScalingGroupName=name, InstanceIds=[instance], ProtectedFromScaleIn=True
    )
    assert _asg(account, name) == []


@pytest.mark.parametrize(("check_type", "severity"), [("ELB", Severity.PROBLEM), ("EC2", Severity.NOTE)])
def test_a_grace_period_shorter_than_the_boot(account: Account, check_type: str, severity: Severity) -> None:
    account.group(HealthCheckType=check_type, HealthCheckGracePeriod=60)
    _one(
        _asg(account), severity, "(60 s) is shorter than the boot (120 s)", "--health-check-grace-period 120"
    )


def test_a_grace_period_as_long_as_the_boot_or_a_launch_hook_is_enough(account: Account) -> None:
    account.group("exact", HealthCheckType="ELB", HealthCheckGracePeriod=120)
    account.group("hooked", hooks=(TERMINATING, LAUNCHING), HealthCheckType="ELB", HealthCheckGracePeriod=0)
    assert _asg(account, "exact") == []
    assert _asg(account, "hooked") == []


def test_capacity_rebalance_without_a_drain_is_a_problem(account: Account) -> None:
    account.group("rebalanced", CapacityRebalance=True)
    assert _asg(account, "rebalanced") == []  # with the termination hook, the instance drains first
    account.group("bare", hooks=(), CapacityRebalance=True)
    findings = [f for f in _asg(account, "bare") if "rebalancing" in f.what]
    _one(findings, Severity.PROBLEM, "capacity rebalancing is on", "--no-capacity-rebalance")


# ---------------------------------------------------------------------------------------- ECS


def test_a_clean_service_has_no_finding(account: Account) -> None:
    account.service()
    assert _ecs(account) == []


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
    _one(
        _ecs(account),
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
    _one(_ecs(account), Severity.PROBLEM, "weekend", "min 0, max 1", "delete-scheduled-action")


def test_a_registered_range_other_than_the_stacks_is_noted(account: Account) -> None:
    account.register(account.service("same"), 0, 10)
    assert _ecs(account, "same") == []
    account.register(account.service(), 1, 4)
    _one(_ecs(account), Severity.NOTE, "between 1 and 4", "0 and MaxCapacity=10", "MaxCapacity to 4")


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
    assert all("DesiredCount" not in f.what for f in _ecs(account, name))  # not known to be managed yet
    account.ecs.tag_resource(  # what CloudFormation adds (moto does not)
        resourceArn=arn,
        tags=[
            {"key": fleet_reader.STACK_TAG, "value": "app-test-worker"},
            {"key": fleet_reader.LOGICAL_ID_TAG, "value": "Service"},
        ],
    )
    resets = [f for f in _ecs(account, name) if "DesiredCount" in f.what]
    _one(
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
    _one(
        check_ecs(_service(managed_by=computed), ATTACH),
        Severity.NOTE,
        "computes DesiredCount",
        "DynamicDesiredCountAction",
    )
    absent = ManagedBy("app-test-worker", "Service", None)
    assert check_ecs(_service(managed_by=absent), ATTACH) == []


def test_the_circuit_breaker_off_is_a_problem_on_rolling_deployments_only() -> None:
    _one(
        check_ecs(_service(circuit_breaker=False), ATTACH),
        Severity.PROBLEM,
        "circuit breaker off",
        "enable=true",
    )
    assert check_ecs(_service(circuit_breaker=False, deployment_controller="CODE_DEPLOY"), ATTACH) == []


def test_a_service_whose_tasks_take_no_protection_loses_jobs_on_scale_in(account: Account) -> None:
    account.service("copilot", {"COPILOT_QUEUE_URI": "https://sqs.us-east-1.amazonaws.com/1/q"})
    _one(
        _ecs(account, "copilot"),
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
    _one(check_ecs(snapshot, attach), severity, *words)


def test_a_protection_that_outlasts_the_job_or_is_renewed_is_enough() -> None:
    attach = dataclasses.replace(ATTACH, longest_job_s=2 * 3600)
    assert check_ecs(_service(environment={}, protected_tasks=1), attach) == []  # 120 min covers 2 h
    longer = dataclasses.replace(ATTACH, longest_job_s=50 * 3600)
    assert check_ecs(_service(), longer) == []  # the project's worker renews at half the expiry
    assert check_ecs(_service(environment={}, protected_tasks=1), ATTACH) == []  # no job length given


# ---------------------------------------------------------------------------------------- the command


def _samconfig(tmp_path: Path, *overrides: str) -> Path:
    path = tmp_path / "samconfig.toml"
    quoted = ", ".join(f'"{item}"' for item in overrides)
    path.write_text(
        f"""version = 0.1
[attach.global.parameters]
stack_name = "{STACK}"
region = "{REGION}"
[attach.deploy.parameters]
parameter_overrides = [{quoted}]
"""
    )
    return path


def test_the_command_reads_the_fleet_from_a_samconfig_environment(
    account: Account, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    account.group("legacy-workers", MaxSize=4)
    config = _samconfig(tmp_path, "ExistingAutoScalingGroupName=legacy-workers", "MaxCapacity=6")
    assert cli.main(["fleet", "--config-env", "attach", "--config-file", str(config)]) == 1
    assert "MaxSize (4) is below MaxCapacity (6)" in capsys.readouterr().out
    assert (
        cli.main(
            [
                "fleet",
                "--asg",
                "legacy-workers",
                "--max-capacity",
                "4",
                "--boot-seconds",
                "300",
                "--region",
                REGION,
            ]
        )
        == 0
    )
    assert "nothing on legacy-workers fights" in capsys.readouterr().out


def test_the_command_reads_an_ecs_service_from_flags(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    account.service("copilot", {})
    code = cli.main(["fleet", "--cluster", "jobs", "--service", "copilot", "--region", REGION])
    assert code == 1 and "no task of copilot is protected" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--asg", "a", "--cluster", "c", "--service", "s"], "not both"),
        (["--cluster", "c"], "--cluster and --service go together"),
        (["--asg", "nowhere"], "--asg nowhere: no such Auto Scaling group"),
        (["--cluster", "jobs", "--service", "nowhere"], "no such active service"),
    ],
)
def test_bad_fleet_flags_are_usage_errors_naming_the_flag(
    account: Account, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert cli.main(["fleet", *argv, "--region", REGION]) == 2
    assert message in capsys.readouterr().err


def test_an_environment_without_an_existing_fleet_says_which_parameters_name_one(
    account: Account, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _samconfig(tmp_path, "MaxCapacity=6")
    assert cli.main(["fleet", "--config-env", "attach", "--config-file", str(config)]) == 2
    assert "ExistingAutoScalingGroupName" in capsys.readouterr().err


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
