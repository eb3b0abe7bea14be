"""House rules for template.yaml, run by `cfn-lint` (see .cfnlintrc).

Custom rules see the template as written (SAM resources, before the transform), so both the SAM and
the plain CloudFormation forms are checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

# Actions without resource-level permissions: the only ones a role may grant on "*". The Service
# Authorization Reference lists no resource types for them, e.g. the Describe* actions of
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2autoscaling.html and
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_applicationautoscaling.html
# (the tuner and the metric publisher both read the target-tracking policy with them).
RESOURCE_STAR_ACTIONS = frozenset(
    {
        "cloudwatch:PutMetricData",  # with a cloudwatch:namespace condition
        "cloudwatch:GetMetricStatistics",
        "cloudwatch:GetMetricData",
        "cloudwatch:DescribeAlarms",
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:DescribeAutoScalingInstances",  # a worker reads its own instance's lifecycle state
        "autoscaling:DescribePolicies",
        "application-autoscaling:DescribeScalingPolicies",
        "ecr:GetAuthorizationToken",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(node: Any) -> Iterator[dict[str, Any]]:
    """Policy statements, looking into both branches of Fn::If."""
    if isinstance(node, dict) and "Fn::If" in node:
        for branch in node["Fn::If"][1:]:
            yield from _statements(branch)
    elif isinstance(node, dict) and "Effect" in node:
        yield node


class FunctionLogGroup(CloudFormationLintRule):  # type: ignore[misc]
    """Every function writes to an explicit log group of the stack that has a retention."""

    id = "E9101"
    shortdesc = "Function without an explicit log group with retention"
    description = "Set LoggingConfig.LogGroup to a Ref of an AWS::Logs::LogGroup with RetentionInDays."
    source_url = "https://github.com/aws-cloudformation/cfn-lint/blob/main/docs/custom_rules.md"
    tags: ClassVar[list[str]] = ["house", "lambda", "logs"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        resources = cfn.template.get("Resources", {})
        global_logging = cfn.template.get("Globals", {}).get("Function", {}).get("LoggingConfig", {})
        for name, resource in resources.items():
            if resource.get("Type") not in ("AWS::Lambda::Function", "AWS::Serverless::Function"):
                continue
            logging = resource.get("Properties", {}).get("LoggingConfig", global_logging)
            log_group = logging.get("LogGroup") if isinstance(logging, dict) else None
            target = log_group.get("Ref") if isinstance(log_group, dict) else None
            group = resources.get(target, {}) if isinstance(target, str) else {}
            if group.get("Type") != "AWS::Logs::LogGroup" or "RetentionInDays" not in group.get(
                "Properties", {}
            ):
                matches.append(
                    RuleMatch(["Resources", name, "Properties"], f"{name} has no log group with retention")
                )
        return matches


class LeastPrivilege(CloudFormationLintRule):  # type: ignore[misc]
    """No wildcard actions; "*" resources only for actions that have no resource-level permissions."""

    id = "E9102"
    shortdesc = "IAM statement broader than least privilege"
    description = 'Allow statements name their actions and use Resource "*" only where IAM cannot scope it.'
    source_url = "https://docs.aws.amazon.com/service-authorization/latest/reference/"
    tags: ClassVar[list[str]] = ["house", "iam"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        for name, resource in cfn.template.get("Resources", {}).items():
            if resource.get("Type") not in ("AWS::IAM::Role", "AWS::Serverless::Function"):
                continue
            for index, policy in enumerate(_as_list(resource.get("Properties", {}).get("Policies", []))):
                if not isinstance(policy, dict):
                    continue  # a managed policy or SAM policy template by name
                document = policy.get("PolicyDocument", policy)  # a role's policy, or SAM's inline form
                path = ["Resources", name, "Properties", "Policies", index]
                for statement in _as_list(document.get("Statement", [])):
                    for inner in _statements(statement):
                        matches.extend(self._check(path, name, inner))
        return matches

    def _check(self, path: list[Any], role: str, statement: dict[str, Any]) -> Iterator[RuleMatch]:
        if statement.get("Effect") != "Allow":
            return
        actions = [action for action in _as_list(statement.get("Action")) if isinstance(action, str)]
        for action in actions:
            if action == "*" or action.endswith(":*"):
                yield RuleMatch(path, f"{role} allows the wildcard action {action}")
        if "*" in _as_list(statement.get("Resource")):
            for action in sorted(set(actions) - RESOURCE_STAR_ACTIONS):
                yield RuleMatch(path, f'{role} allows {action} on "*" though IAM can scope it')


def _refs(node: Any) -> Iterator[str]:
    """Logical ids that a node references with Ref, GetAtt or ${...} in Sub."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                target = value.split(".")[0] if isinstance(value, str) else value[0]
                yield str(target)
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                for name in str(text).split("${")[1:]:
                    yield name.split("}")[0].split(".")[0]
                if isinstance(value, list):
                    yield from _refs(value[1])
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


class ScaledCapacityInTemplate(CloudFormationLintRule):  # type: ignore[misc]
    """A fleet that scaling owns must not also have its size in the template.

    CloudFormation sends `DesiredCount` (ECS) or `DesiredCapacity` (EC2) again on every update that
    touches the resource, which resets a busy, scaled-out fleet (aws/containers-roadmap#493). The one
    form allowed is `Fn::If [condition, 0, AWS::NoValue]`: 0 for a fleet that is off anyway (nothing
    to reset), omitted otherwise.
    """

    id = "E9103"
    shortdesc = "Autoscaled fleet with a size in the template"
    description = (
        "Omit DesiredCount / DesiredCapacity on a service or group that a scaling target or policy owns"
        " (or give 0 only under a condition, with AWS::NoValue otherwise)."
    )
    source_url = "https://github.com/aws/containers-roadmap/issues/493"
    tags: ClassVar[list[str]] = ["house", "ecs", "autoscaling"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        resources = cfn.template.get("Resources", {})
        scaled: set[str] = set()
        for resource in resources.values():
            kind = resource.get("Type")
            props = resource.get("Properties", {})
            if kind == "AWS::ApplicationAutoScaling::ScalableTarget":
                scaled.update(_refs(props.get("ResourceId")))
            elif kind == "AWS::AutoScaling::ScalingPolicy":
                scaled.update(_refs(props.get("AutoScalingGroupName")))
        matches: list[RuleMatch] = []
        for name in sorted(scaled & set(resources)):
            kind = resources[name].get("Type")
            field = {
                "AWS::ECS::Service": "DesiredCount",
                "AWS::AutoScaling::AutoScalingGroup": "DesiredCapacity",
            }
            prop = field.get(kind)
            properties = resources[name].get("Properties", {})
            if prop and prop in properties and not _zero_or_nothing(properties[prop]):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", prop],
                        f"{name} is autoscaled: {prop} resets it on every stack update",
                    )
                )
        return matches


def _zero_or_nothing(value: Any) -> bool:
    branches = value.get("Fn::If") if isinstance(value, dict) else None
    return (
        isinstance(branches, list)
        and len(branches) == 3
        and str(branches[1]) == "0"
        and branches[2] == {"Ref": "AWS::NoValue"}
    )


class EcsServiceLinkedRole(CloudFormationLintRule):  # type: ignore[misc]
    """The ECS service-linked role is a preflight step, never a resource next to the cluster.

    A cluster with capacity providers needs AWSServiceRoleForECS. Created in the same stack, the
    role is not yet usable when the cluster is created (IAM is eventually consistent) and the first
    deploy fails with "Unable to assume the service linked role" (aws/containers-roadmap#2614).
    """

    id = "E9104"
    shortdesc = "ECS service-linked role created in the stack of the cluster that needs it"
    description = (
        "Create AWSServiceRoleForECS before the deploy (aws iam create-service-linked-role"
        " --aws-service-name ecs.amazonaws.com; `qas doctor preflight` checks it), not as an"
        " AWS::IAM::ServiceLinkedRole of the stack whose cluster uses it."
    )
    source_url = "https://github.com/aws/containers-roadmap/issues/2614"
    tags: ClassVar[list[str]] = ["house", "ecs", "iam"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        resources = cfn.template.get("Resources", {})
        clusters = [
            name
            for name, resource in resources.items()
            if resource.get("Type") == "AWS::ECS::Cluster"
            and "CapacityProviders" in resource.get("Properties", {})
        ]
        if not clusters:
            return []
        return [
            RuleMatch(
                ["Resources", name],
                f"{name} creates the ECS service-linked role that {clusters[0]} needs in the same deploy:"
                " it races IAM propagation; make it a preflight step",
            )
            for name, resource in resources.items()
            if resource.get("Type") == "AWS::IAM::ServiceLinkedRole"
            and resource.get("Properties", {}).get("AWSServiceName") == "ecs.amazonaws.com"
        ]
