"""What only a real account shows: each check here fails on the template before the fix.

First ECS deploy (service-linked role), updates (no DesiredCount, EC2 rollout), impossible parameter
combinations (Rules), SSE-KMS existing queues, and an ECR lifecycle that keeps the running image.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from qas import emulator
from qas.doctor import config
from tests.template.conftest import template_strings

ROOT = emulator.REPO_ROOT
QUEUE_ARN = "arn:aws:sqs:eu-west-1:210987654321:jobs"
KEY_ARN = "arn:aws:kms:eu-west-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _resolved(parameters: dict[str, str]) -> tuple[dict[str, Any], emulator.Resolver]:
    template = emulator.translate(parameters=parameters)
    values = config.effective_parameters(
        template, {"SubnetIds": "subnet-1", "SecurityGroupIds": "sg-1", **parameters}
    )
    resolver = emulator.Resolver(
        template, values, "qas", ref=lambda name: f"<{name}>", get_att=lambda name, attr: f"<{name}.{attr}>"
    )
    return template, resolver


def _active(template: dict[str, Any], resolver: emulator.Resolver) -> dict[str, Any]:
    return {
        name: resolver.resolve(resource)
        for name, resource in template["Resources"].items()
        if "Condition" not in resource or resolver.condition(resource["Condition"])
    }


def _statements(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in resource.get("Properties", {}).get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


# ---------------------------------------------------------------- 1, 2: ECS first deploy and updates


@pytest.mark.slow
def test_house_rules_flag_an_autoscaled_desired_count_and_a_service_linked_role_next_to_the_cluster(
    tmp_path: Path,
) -> None:
    text = (ROOT / "template.yaml").read_text()
    # A size other than 0 while the fleet is off is a size in the template like any other.
    broken = text.replace(
        "      DesiredCount: !If [FleetOff, 0, !Ref AWS::NoValue]\n",
        "      DesiredCount: !If [FleetOff, 1, !Ref AWS::NoValue]\n",
        1,
    )
    broken = broken.replace(
        "  TaskExecutionRole:\n",
        "  EcsServiceLinkedRole:\n    Type: AWS::IAM::ServiceLinkedRole\n    Condition: IsECS\n"
        "    Properties:\n      AWSServiceName: ecs.amazonaws.com\n\n  TaskExecutionRole:\n",
        1,
    )
    assert "DesiredCount: !If [FleetOff, 1," in broken and "AWS::IAM::ServiceLinkedRole" in broken
    (tmp_path / "template.yaml").write_text(broken)

    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(tmp_path / "template.yaml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    rules = {line.split()[0] for line in result.stdout.splitlines() if line[:1] in "EWI" and line.strip()}
    assert rules == {"E9103", "E9104"}, result.stdout
    assert "WorkerService is autoscaled: DesiredCount resets it" in result.stdout
    assert "EcsServiceLinkedRole creates the ECS service-linked role that Cluster needs" in result.stdout


@pytest.mark.parametrize("max_capacity", ["0", "10"])
def test_ecs_service_leaves_its_count_to_scaling_and_fails_fast(max_capacity: str) -> None:
    template, resolver = _resolved({"WorkerPlatform": "ECS", "MaxCapacity": max_capacity})
    service = _active(template, resolver)["WorkerService"]["Properties"]
    # A DesiredCount is sent only while the fleet is off: 0, which resets nothing; with a MaxCapacity
    # it is omitted, and an update leaves the count scaling set.
    if max_capacity == "0":
        assert service["DesiredCount"] == 0
    else:
        assert "DesiredCount" not in service
    assert service["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {
        "Enable": True,
        "Rollback": True,
    }


@pytest.mark.parametrize("platform", ["ECS", "EC2"])
def test_the_stack_never_creates_the_ecs_service_linked_role(platform: str) -> None:
    """Created next to the cluster, the role raced it on a first deploy; it is a preflight step."""
    template = emulator.translate(parameters={"WorkerPlatform": platform})
    assert "CreateEcsServiceLinkedRole" not in template["Parameters"]
    kinds = {resource["Type"] for resource in template["Resources"].values()}
    assert "AWS::IAM::ServiceLinkedRole" not in kinds


# ---------------------------------------------------------------- 3: Rules


@pytest.mark.parametrize(
    ("parameters", "rules"),
    [
        ({"WorkerPlatform": "ECS", "UseFargateSpot": "true", "FargateCpuArchitecture": "ARM64"}, set()),
        ({"WorkerPlatform": "ECS", "UseFargateSpot": "true", "FargateCpuArchitecture": "X86_64"}, set()),
        ({"WorkerPlatform": "ECS", "UseFargateSpot": "false", "FargateCpuArchitecture": "ARM64"}, set()),
        ({"WorkerPlatform": "EC2", "UseFargateSpot": "true", "FargateCpuArchitecture": "ARM64"}, set()),
        ({"ExistingQueueKmsKeyArn": KEY_ARN}, {"QueueKeyNeedsExistingQueue"}),
        ({"ExistingQueueKmsKeyArn": KEY_ARN, "ExistingQueueArn": QUEUE_ARN}, set()),
    ],
)
def test_rules_reject_what_aws_can_never_run(parameters: dict[str, str], rules: set[str]) -> None:
    # The translated template is what CloudFormation evaluates: SAM must pass the Rules through.
    template = emulator.translate(parameters={"WorkerPlatform": parameters.get("WorkerPlatform", "EC2")})
    assert set(template["Rules"]) == {
        "QueueKeyNeedsExistingQueue",
        "EcsServiceNamesTogether",
        "AttachedFleetMatchesPlatform",
        "AttachedServiceMatchesPlatform",
        "WarmPoolNeedsEc2",
        "WarmPoolNeedsOnDemand",
    }
    values = config.effective_parameters(template, parameters)
    assert {name for name, _ in config.broken_rules(template, values)} == rules


@pytest.mark.parametrize("architecture", ["X86_64", "ARM64"])
def test_samconfig_default_runs_on_fargate_spot_with_either_architecture(architecture: str) -> None:
    # Given samconfig's default environment (Fargate Spot), with or without deploy.md's Graviton advice
    deploy = config.read_samconfig(ROOT / "samconfig.toml", "default")
    parameters = {**deploy.parameters, "FargateCpuArchitecture": architecture}
    template, resolver = _resolved(parameters)
    # Then nothing rejects it, and the service runs FARGATE_SPOT on a platform version that supports
    # the architecture: ARM64 needs 1.4.0 or later, X86_64 1.3.0 or later (ECS API reference,
    # CapacityProviderStrategyItem).
    assert config.broken_rules(template, config.effective_parameters(template, parameters)) == []
    resources = _active(template, resolver)
    service = resources["WorkerService"]["Properties"]
    assert [item["CapacityProvider"] for item in service["CapacityProviderStrategy"]] == ["FARGATE_SPOT"]
    version = tuple(int(part) for part in service["PlatformVersion"].split("."))
    assert version >= (1, 4, 0)
    platform = resources["TaskDefinition"]["Properties"]["RuntimePlatform"]
    assert platform == {"OperatingSystemFamily": "LINUX", "CpuArchitecture": architecture}


# ---------------------------------------------------------------- 5: SSE-KMS existing queue


@pytest.mark.parametrize("platform", ["EC2", "ECS"])
def test_existing_kms_queue_grants_the_key_and_uses_the_arns_region_and_account(platform: str) -> None:
    template, resolver = _resolved(
        {"WorkerPlatform": platform, "ExistingQueueArn": QUEUE_ARN, "ExistingQueueKmsKeyArn": KEY_ARN}
    )
    resources = _active(template, resolver)
    via_sqs = {"StringEquals": {"kms:ViaService": "sqs.eu-west-1.amazonaws.com"}}
    expected = {
        "ProducerFunctionRole": {"kms:GenerateDataKey", "kms:Decrypt"},
        ("WorkerInstanceRole" if platform == "EC2" else "TaskRole"): {"kms:Decrypt"},
    }
    for role, actions in expected.items():
        (statement,) = [
            s
            for s in _statements(resources[role])
            if any(str(a).startswith("kms:") for a in s["Action"] if isinstance(s["Action"], list))
            or str(s["Action"]).startswith("kms:")
        ]
        granted = set(statement["Action"]) if isinstance(statement["Action"], list) else {statement["Action"]}
        assert granted == actions, role
        assert statement["Resource"] == KEY_ARN
        assert statement["Condition"] == via_sqs
    urls = {
        match for text in template_strings(resources) for match in re.findall(r"https://sqs\.[^\s\"']+", text)
    }
    urls |= {resolver.resolve(template["Outputs"]["QueueUrl"]["Value"])}
    assert urls == {"https://sqs.eu-west-1.amazonaws.com/210987654321/jobs"}


def test_without_a_key_no_role_gets_kms() -> None:
    template, resolver = _resolved({"WorkerPlatform": "EC2", "ExistingQueueArn": QUEUE_ARN})
    actions = {
        str(a)
        for r in _active(template, resolver).values()
        for s in _statements(r)
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert not {action for action in actions if action.startswith("kms:")}


# ---------------------------------------------------------------- 6: ECR lifecycle


def _expired(policy: dict[str, Any], images: list[tuple[str, int]]) -> set[str]:
    """ECR's documented evaluation (user guide, "Lifecycle policy evaluation rules"): rules in priority
    order; an image matched by a rule's tag selection is never expired by a later rule; countType
    imageCountMoreThan expires the oldest beyond the count among the images the rule selects."""
    taken: set[str] = set()  # matched by an earlier rule's tagging requirements
    expired: set[str] = set()
    for rule in sorted(policy["rules"], key=lambda r: r["rulePriority"]):
        selection = rule["selection"]
        patterns = selection.get("tagPatternList") or selection.get("tagPrefixList")
        matched = [
            (tag, pushed)
            for tag, pushed in images
            if tag not in taken
            and (
                selection["tagStatus"] == "any"
                or (
                    selection["tagStatus"] == "tagged"
                    and (not patterns or any(re.fullmatch(p.replace("*", ".*"), tag) for p in patterns))
                )
            )
        ]
        assert selection["countType"] == "imageCountMoreThan"
        newest_first = sorted(matched, key=lambda image: -image[1])
        expired |= {tag for tag, _ in newest_first[selection["countNumber"] :]}
        taken |= {tag for tag, _ in matched}
    return expired


OLD_POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10},
            "action": {"type": "expire"},
        }
    ]
}


def test_ecr_lifecycle_never_expires_the_image_the_stack_runs() -> None:
    template, resolver = _resolved({"WorkerPlatform": "ECS", "WorkerImageTag": "v1"})
    policy = json.loads(
        resolver.resolve(
            template["Resources"]["WorkerRepository"]["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"]
        )
    )
    # v1 is the oldest of 15 images (a pinned stable build while newer ones were pushed and tried).
    images = [("v1", 0)] + [(f"build-{n}", n) for n in range(1, 15)]
    expired = _expired(policy, images)
    assert "v1" not in expired
    assert len(expired) == 4  # only 10 other images are kept
    # The rule before the fix expired it.
    assert "v1" in _expired(OLD_POLICY, images)


# ---------------------------------------------------------------- 4: EC2 rollout


@mock_aws
def test_rollout_rules_fire_on_a_finished_update_and_a_finished_refresh_never_on_a_rollback() -> None:
    template, resolver = _resolved({"WorkerPlatform": "EC2"})
    resources = _active(template, resolver)
    rules = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule" and "EventPattern" in r["Properties"]
    ]
    assert {target["Arn"] for rule in rules for target in rule["Properties"]["Targets"]} == {
        "<FleetRolloutFunction.Arn>"
    }
    assert (
        resources["FleetRolloutFunction"]["Properties"]["Handler"]
        == "queue_autoscaler.fleet_rollout.app.lambda_handler"
    )
    stack_id = resolver.pseudo("AWS::StackId")
    # moto has no TestEventPattern; its event bus matches patterns on PutEvents, so deliver to a queue.
    events = boto3.client("events", region_name=emulator.REGION)
    sqs = boto3.client("sqs", region_name=emulator.REGION)
    queue = sqs.create_queue(QueueName="matched")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    for index, rule in enumerate(rules):
        events.put_rule(Name=f"rollout-{index}", EventPattern=json.dumps(rule["Properties"]["EventPattern"]))
        events.put_targets(Rule=f"rollout-{index}", Targets=[{"Id": "q", "Arn": queue_arn}])

    def matches(source: str, detail_type: str, detail: dict[str, Any]) -> bool:
        events.put_events(
            Entries=[{"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}]
        )
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        for message in received:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return bool(received)

    def stack(status: str, stack: str = stack_id) -> bool:
        detail = {"stack-id": stack, "status-details": {"status": status}}
        return matches("aws.cloudformation", "CloudFormation Stack Status Change", detail)

    def group_resource(status: str) -> bool:
        detail = {
            "stack-id": stack_id,
            "logical-resource-id": "WorkerGroup",
            "status-details": {"status": status},
        }
        return matches("aws.cloudformation", "CloudFormation Resource Status Change", detail)

    def refresh(outcome: str, group: str = "qas-workers") -> bool:
        detail = {"InstanceRefreshId": "r-1", "AutoScalingGroupName": group}
        return matches("aws.autoscaling", f"EC2 Auto Scaling Instance Refresh {outcome}", detail)

    # A stack update that completed: the group's new launch template version is there to stay.
    assert stack("UPDATE_COMPLETE")
    # A rolled-back update puts the old version back: nothing to roll out. The group's own
    # UPDATE_COMPLETE is emitted both when it is updated and when a rollback updates it back.
    assert not stack("UPDATE_ROLLBACK_COMPLETE")
    assert not stack("UPDATE_IN_PROGRESS")
    assert not group_resource("UPDATE_COMPLETE")
    assert not stack("UPDATE_COMPLETE", stack_id.replace("qas", "other"))
    # A refresh that succeeded may have left instances of a version that came during it.
    assert refresh("Succeeded")
    assert not refresh("Succeeded", group="other-workers")
    assert not refresh("Failed") and not refresh("Cancelled")
    # The function may start a refresh of this group only.
    (refresh_statement,) = [
        s
        for s in _statements(resources["FleetRolloutFunctionRole"])
        if s["Action"] == "autoscaling:StartInstanceRefresh"
    ]
    assert refresh_statement["Resource"].endswith(":autoScalingGroupName/qas-workers")


# ---------------------------------------------------------------- 7: what the comments cite


def test_every_document_the_template_cites_is_in_the_repository() -> None:
    cited = set(re.findall(r"([\w./-]+\.md)\b", (ROOT / "template.yaml").read_text()))
    missing = {name for name in cited if not list(ROOT.glob(f"**/{Path(name).name}"))}
    assert not missing, f"template.yaml cites documents that are not in the repository: {missing}"
