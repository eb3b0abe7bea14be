"""A moto account (`mock_aws`, in-process) with an Auto Scaling group and an ECS service built clean by
default, for the `qas doctor fleet` tests: each test adds the one risk it checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import boto3
from moto import mock_aws

from qas.doctor import fleet_reader
from qas.doctor.findings import Finding, Severity
from qas.doctor.fleet import TERMINATING, Attach, check_asg, check_ecs

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


def moto_account() -> Iterator[Account]:
    """For a module's ``account`` fixture (tests/doctor/conftest.py has another account)."""
    with mock_aws():
        yield Account(boto3.Session(region_name=REGION))


def asg_findings(account: Account, name: str = "workers", attach: Attach = ATTACH) -> list[Finding]:
    return check_asg(fleet_reader.read_asg(account, name), attach)


def ecs_findings(account: Account, service: str = "worker", **fixed: Any) -> list[Finding]:
    # moto drops deploymentConfiguration: a clean service has its circuit breaker on.
    snapshot = dataclasses.replace(
        fleet_reader.read_ecs(account, "jobs", service), circuit_breaker=True, **fixed
    )
    return check_ecs(snapshot, ATTACH)


def one(findings: list[Finding], severity: Severity, *words: str) -> Finding:
    assert len(findings) == 1, findings
    finding = findings[0]
    assert finding.severity is severity, finding
    for word in words:
        assert word in finding.what + finding.fix, (word, finding)
    return finding
