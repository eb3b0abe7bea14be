"""Parliament (an independent IAM linter) on every policy of the translated template.

Each parameter combination that changes IAM is translated, its intrinsic functions are resolved with
realistic ARNs, and every identity, trust and resource policy of the resources it creates is
analysed. Findings are failures unless SKIPS explains why parliament is wrong about that one.
Run by `make check` (python lint/iam_parliament.py) and by tests/template/test_parliament.py.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import parliament

from qas import emulator
from qas.doctor import config

QUEUE_ARN = "arn:aws:sqs:eu-west-1:210987654321:jobs"
KEY_ARN = "arn:aws:kms:eu-west-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# Every combination that adds or changes a policy statement.
VARIANTS: dict[str, dict[str, str]] = {
    "ec2": {"WorkerPlatform": "EC2"},
    "ecs": {"WorkerPlatform": "ECS"},
    "ec2-existing-kms-queue": {
        "WorkerPlatform": "EC2",
        "ExistingQueueArn": QUEUE_ARN,
        "ExistingQueueKmsKeyArn": KEY_ARN,
    },
    "ecs-existing-kms-queue": {
        "WorkerPlatform": "ECS",
        "ExistingQueueArn": QUEUE_ARN,
        "ExistingQueueKmsKeyArn": KEY_ARN,
    },
    "ec2-attached": {"WorkerPlatform": "EC2", "ExistingAutoScalingGroupName": "their-workers"},
    "ecs-attached": {
        "WorkerPlatform": "ECS",
        "ExistingEcsClusterName": "their-cluster",
        "ExistingEcsServiceName": "their-service",
    },
    "ecs-image-elsewhere": {
        "WorkerPlatform": "ECS",
        "WorkerImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/w:1",
    },
}
# (resource or policy, issue, action or "*") -> why parliament is wrong here.
SKIPS: dict[tuple[str, str, str], str] = {
    ("AssumeRolePolicyDocument", "MALFORMED", "*"): (
        "A trust policy names a Principal and no Resource; parliament checks it as an identity policy."
    ),
    ("KeyPolicy", "RESOURCE_STAR", "*"): (
        'In a KMS key policy "*" is the key itself (KMS developer guide, key policies); the statements are'
        " scoped by principal (the account, CloudWatch with aws:SourceAccount)."
    ),
    ("TargetTunerFunctionRole", "RESOURCE_STAR", "cloudwatch:DescribeAlarms"): (
        "Application Auto Scaling calls DescribeAlarms with the tuner's credentials while it replaces the"
        " target-tracking alarms, under names it generates; AWS's documented policy for PutScalingPolicy"
        " grants it on * (Application Auto Scaling user guide, identity-based policy examples)."
    ),
}
_ARN = {
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "AWS::ECR::Repository": "arn:aws:ecr:{region}:{account}:repository/{name}",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}",
    "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{name}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
    "AWS::IAM::InstanceProfile": "arn:aws:iam::{account}:instance-profile/{name}",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}",
}


@dataclass(frozen=True)
class Finding:
    variant: str
    resource: str
    policy: str
    issue: str
    detail: str
    actions: tuple[str, ...]


def _resolver(template: dict[str, Any], parameters: dict[str, str]) -> emulator.Resolver:
    values = config.effective_parameters(
        template, {"SubnetIds": "subnet-1", "SecurityGroupIds": "sg-1", **parameters}
    )
    types = {name: resource["Type"] for name, resource in template["Resources"].items()}

    def arn(name: str) -> str:
        pattern = _ARN.get(types.get(name, ""), "arn:aws:cloudformation:{region}:{account}:resource/{name}")
        return pattern.format(region=emulator.REGION, account=emulator.ACCOUNT_ID, name=f"qas-{name.lower()}")

    def ref(name: str) -> str:
        kind = types.get(name, "")
        if kind in ("AWS::SQS::Queue",):
            return f"https://sqs.{emulator.REGION}.amazonaws.com/{emulator.ACCOUNT_ID}/qas-{name.lower()}"
        if kind in ("AWS::SNS::Topic",):
            return arn(name)
        return f"qas-{name.lower()}"

    def get_att(name: str, attribute: str) -> str:
        return arn(name) if attribute == "Arn" else f"qas-{name.lower()}"

    return emulator.Resolver(template, values, "qas", ref=ref, get_att=get_att)


def policies(parameters: dict[str, str]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(resource, policy name, resolved document) of every policy the stack would create."""
    template = emulator.translate(parameters=parameters)
    resolver = _resolver(template, parameters)
    for name, resource in template["Resources"].items():
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        props = resolver.resolve(resource.get("Properties", {}))
        for policy in props.get("Policies", []):
            yield name, policy["PolicyName"], policy["PolicyDocument"]
        for key in ("AssumeRolePolicyDocument", "PolicyDocument", "KeyPolicy"):
            if key in props:
                yield name, key, props[key]


def findings() -> list[Finding]:
    found = []
    for variant, parameters in VARIANTS.items():
        for resource, name, document in policies(parameters):
            for finding in parliament.analyze_policy_string(json.dumps(document)).findings:
                detail = finding.detail
                items = detail if isinstance(detail, list) else [detail]
                actions = tuple(
                    sorted({str(i.get("action", i)) if isinstance(i, dict) else str(i) for i in items})
                )
                found.append(Finding(variant, resource, name, finding.issue, json.dumps(detail), actions))
    return found


def unexplained(all_findings: list[Finding]) -> list[Finding]:
    return [
        finding
        for finding in all_findings
        if (finding.policy, finding.issue, "*") not in SKIPS
        and not all((finding.resource, finding.issue, action) in SKIPS for action in finding.actions)
    ]


def main() -> int:
    all_findings = findings()
    left = unexplained(all_findings)
    for finding in left:
        print(f"{finding.variant}: {finding.resource} {finding.policy}: {finding.issue} {finding.detail}")
    skipped = len(all_findings) - len(left)
    print(f"parliament: {len(left)} findings, {skipped} skipped with a reason (lint/iam_parliament.py SKIPS)")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
