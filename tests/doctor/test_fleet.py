"""`qas doctor fleet` on an Auto Scaling group, and the command itself: each risk of attaching the
stack to an existing group, built on moto (`mock_aws`, in-process), is reported with its fix; a clean
group gives no finding. moto does not tag what CloudFormation creates with `aws:cloudformation:*`:
the tests tag it as CloudFormation does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from qas.doctor import cli, fleet_reader
from qas.doctor.findings import Severity
from qas.doctor.fleet import LAUNCHING, TERMINATING
from tests.doctor.fleet_account import (
    REGION,
    STACK,
    Account,
    asg_findings,
    moto_account,
    one,
)


@pytest.fixture
def account() -> Iterator[Account]:
    yield from moto_account()


def test_a_clean_group_has_no_finding(account: Account) -> None:
    account.group()
    assert asg_findings(account) == []


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
    one(asg_findings(account), Severity.PROBLEM, "cpu-tracking", "TargetTrackingScaling", "delete-policy")


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
    one(
        asg_findings(account),
        Severity.PROBLEM,
        "nightly",
        "0 22 * * *",
        "min 2, max 4",
        "delete-scheduled-action",
    )


def test_max_size_below_max_capacity_caps_every_scale_out(account: Account) -> None:
    account.group(MaxSize=4)
    one(asg_findings(account), Severity.PROBLEM, "MaxSize (4) is below MaxCapacity (10)", "--max-size 10")


def test_max_size_above_max_capacity_and_a_min_size_are_noted(account: Account) -> None:
    account.group(MinSize=1, MaxSize=20, DesiredCapacity=1)
    findings = asg_findings(account)
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
    assert all(
        "DesiredCapacity" not in f.what for f in asg_findings(account, name)
    )  # not known to be managed yet
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
    resets = [f for f in asg_findings(account, name) if "DesiredCapacity" in f.what]
    one(resets, Severity.PROBLEM, "Workers in stack legacy", "DesiredCapacity: 3", "resets the fleet to 3")


def test_no_termination_hook_loses_running_jobs(account: Account) -> None:
    account.group(hooks=())
    one(asg_findings(account), Severity.PROBLEM, "no termination lifecycle hook", TERMINATING)


def test_no_scale_in_protection_is_noted(account: Account) -> None:
    account.group(NewInstancesProtectedFromScaleIn=False)
    one(asg_findings(account), Severity.NOTE, "protected from scale-in", "SetInstanceProtection")


def test_a_protected_instance_shows_the_worker_protects_itself(account: Account) -> None:
    name = account.group("busy", NewInstancesProtectedFromScaleIn=False, DesiredCapacity=1, MinSize=0)
    autoscaling = account.client("autoscaling")
    instance = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0][
        "Instances"
    ][0]["InstanceId"]
    assert asg_findings(account, name) != []
    autoscaling.set_instance_protection(
        AutoScalingGroupName=name, InstanceIds=[instance], ProtectedFromScaleIn=True
    )
    assert asg_findings(account, name) == []


@pytest.mark.parametrize(("check_type", "severity"), [("ELB", Severity.PROBLEM), ("EC2", Severity.NOTE)])
def test_a_grace_period_shorter_than_the_boot(account: Account, check_type: str, severity: Severity) -> None:
    account.group(HealthCheckType=check_type, HealthCheckGracePeriod=60)
    one(
        asg_findings(account),
        severity,
        "(60 s) is shorter than the boot (120 s)",
        "--health-check-grace-period 120",
    )


def test_a_grace_period_as_long_as_the_boot_or_a_launch_hook_is_enough(account: Account) -> None:
    account.group("exact", HealthCheckType="ELB", HealthCheckGracePeriod=120)
    account.group("hooked", hooks=(TERMINATING, LAUNCHING), HealthCheckType="ELB", HealthCheckGracePeriod=0)
    assert asg_findings(account, "exact") == []
    assert asg_findings(account, "hooked") == []


def test_capacity_rebalance_without_a_drain_is_a_problem(account: Account) -> None:
    account.group("rebalanced", CapacityRebalance=True)
    assert asg_findings(account, "rebalanced") == []  # with the termination hook, the instance drains first
    account.group("bare", hooks=(), CapacityRebalance=True)
    findings = [f for f in asg_findings(account, "bare") if "rebalancing" in f.what]
    one(findings, Severity.PROBLEM, "capacity rebalancing is on", "--no-capacity-rebalance")


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
