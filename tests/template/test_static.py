"""Static checks of template.yaml and samconfig.toml: linters, the security scan, house rules."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from samcli.cli.types import CfnParameterOverridesType  # type: ignore[import-untyped]

from lint.rules.house_rules import RESOURCE_STAR_ACTIONS
from qas import emulator

ROOT = emulator.REPO_ROOT
BIN = Path(sys.executable).parent
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def _run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **env}, timeout=300, check=False
    )


@pytest.mark.slow
def test_cfn_lint_has_no_findings() -> None:
    result = _run([str(BIN / "cfn-lint"), "template.yaml"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.slow
def test_house_rules_run_with_cfn_lint(tmp_path: Path) -> None:
    # Given the template with one function's log group dropped and a queue action widened to "*"
    text = (ROOT / "template.yaml").read_text()
    broken = text.replace("      LoggingConfig:\n        LogGroup: !Ref ProducerLogGroup\n", "", 1)
    broken = re.sub(r"(Action: sqs:GetQueueAttributes\n\s+Resource: )!If[^\n]*", r'\1"*"', broken, count=1)
    assert broken.count("LoggingConfig") == text.count("LoggingConfig") - 1
    (tmp_path / "template.yaml").write_text(broken)

    # When cfn-lint runs from the repository root (where .cfnlintrc adds lint/rules)
    result = _run([str(BIN / "cfn-lint"), str(tmp_path / "template.yaml")])

    # Then both house rules report, and nothing else does
    rules = {line.split()[0] for line in result.stdout.splitlines() if line[:1] in "EWI" and line.strip()}
    assert rules == {"E9101", "E9102"}, result.stdout
    assert "ProducerFunction has no log group" in result.stdout
    assert 'allows sqs:GetQueueAttributes on "*"' in result.stdout


@pytest.mark.slow
def test_sam_validate_lint() -> None:
    result = _run([str(BIN / "sam"), "validate", "--lint"], SAM_CLI_TELEMETRY="0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.mark.slow
def test_checkov_passes_and_every_skip_has_a_reason() -> None:
    assert CHECKOV.exists(), "checkov lives in .venv-checkov: run `make install`"
    result = _run(
        [
            str(CHECKOV),
            *("-f", "template.yaml", "--framework", "cloudformation", "--skip-download"),
            *("--compact", "--quiet", "--output", "json"),
        ],
        BC_SKIP_MAPPING="TRUE",
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    report = json.loads(result.stdout)
    summary = report["summary"]
    assert summary["failed"] == 0
    assert summary["passed"] > 20  # the scan really ran over the resources

    template = emulator.load_template()
    for logical_id, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert skip["id"].startswith("CKV_"), logical_id
            assert len(skip.get("comment", "")) > 20, f"{logical_id} skips {skip['id']} without a reason"


def test_no_wildcard_actions_and_resource_star_only_where_unavoidable() -> None:
    """`Resource: "*"` only for actions without resource-level permissions (or a key's own policy)."""
    allowed_star = RESOURCE_STAR_ACTIONS  # one list, shared with the house cfn-lint rule
    for platform in ("EC2", "ECS"):
        for logical_id, statement in _policy_statements(
            emulator.translate(parameters={"WorkerPlatform": platform})
        ):
            actions = _as_list(statement.get("Action"))
            assert "*" not in actions, logical_id
            assert all(not action.endswith(":*") for action in actions) or statement["Effect"] == "Deny", (
                logical_id
            )
            if statement.get("Resource") == "*":
                assert set(actions) <= allowed_star, f"{logical_id}: {actions} on *"
            if "cloudwatch:PutMetricData" in actions:
                assert statement["Condition"]["StringEquals"]["cloudwatch:namespace"] == {
                    "Ref": "MetricNamespace"
                }


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policy_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every statement of every IAM role's inline policies (both branches of an Fn::If)."""
    found: list[tuple[str, dict[str, Any]]] = []

    def collect(logical_id: str, node: Any) -> None:
        if isinstance(node, dict) and "Fn::If" in node:
            for branch in node["Fn::If"][1:]:
                collect(logical_id, branch)
        elif isinstance(node, dict) and "Effect" in node:
            found.append((logical_id, node))

    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                collect(logical_id, statement)
    return found


def test_samconfig_environments_are_complete_and_match_the_template() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    parameters = emulator.load_template()["Parameters"]
    assert {"default", "prod"} <= set(config)
    for name in ("default", "prod"):
        env = config[name]
        assert env["validate"]["parameters"]["lint"] is True
        assert env["build"]["parameters"] == {"cached": True, "parallel": True}
        deploy = env["deploy"]["parameters"]
        assert deploy["capabilities"] in ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM")
        assert deploy["resolve_s3"] is True
        assert deploy["confirm_changeset"] is True
        assert env["global"]["parameters"]["stack_name"]
        # Parsed the way `sam deploy` parses them.
        overrides = CfnParameterOverridesType().convert(deploy["parameter_overrides"], None, None)
        for key, value in overrides.items():
            assert key in parameters, f"[{name}] {key} is not a template parameter"
            allowed = parameters[key].get("AllowedValues")
            if allowed is not None:
                assert value in [str(item) for item in allowed], f"[{name}] {key}={value}"
        # InitialTarget must follow concurrency x SLO / expected seconds: a whole number of seconds
        # per message between 1 s and the SLO.
        expected_seconds = (
            float(overrides["WorkerConcurrency"])
            * float(overrides["LatencySloSeconds"])
            / float(overrides["InitialTarget"])
        )
        assert 1 <= expected_seconds <= float(overrides["LatencySloSeconds"])


def test_template_defaults_are_consistent() -> None:
    parameters = emulator.load_template()["Parameters"]
    # The worker's grace period must fit in the 120 s container stop timeout.
    assert int(parameters["WorkerShutdownGraceSeconds"]["MaxValue"]) < 120
    # Default InitialTarget = concurrency x SLO / 20 s expected processing (documented in its description).
    assert (
        parameters["WorkerConcurrency"]["Default"] * parameters["LatencySloSeconds"]["Default"] / 20
        == parameters["InitialTarget"]["Default"]
    )


# What the worker calls (worker/: a start check, receive, delete and change-visibility batches, one
# PutMetricData per flush, SetInstanceProtection on EC2; ECS task protection goes through the agent
# with the task role).
WORKER_ACTIONS = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",  # DeleteMessageBatch
    "sqs:ChangeMessageVisibility",  # ChangeMessageVisibilityBatch
    "sqs:GetQueueAttributes",  # the start check, once per queue (worker/queues.py check_queues)
    "cloudwatch:PutMetricData",
    "kms:Decrypt",  # only with ExistingQueueKmsKeyArn: an SSE-KMS queue decrypts on receive
}
# worker/launch.py and worker/termination.py on EC2: the instance's own lifecycle state, heartbeats
# while draining, the completions (tests/template/test_lifecycle_hooks.py checks them in detail).
LIFECYCLE_ACTIONS = {
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:RecordLifecycleActionHeartbeat",
    "autoscaling:CompleteLifecycleAction",
}
# The host (EC2) or the ECS agent (execution role) pulls the image and ships the container's logs.
PULL_AND_LOG = {
    "ecr:GetAuthorizationToken",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
}


@pytest.mark.parametrize(
    ("platform", "role", "expected"),
    [
        (
            "EC2",
            "WorkerInstanceRole",
            WORKER_ACTIONS | PULL_AND_LOG | {"autoscaling:SetInstanceProtection", *LIFECYCLE_ACTIONS},
        ),
        (
            "ECS",
            "TaskRole",
            # worker/rollout_watch.py: DescribeServices on its own service, nothing else
            WORKER_ACTIONS | {"ecs:UpdateTaskProtection", "ecs:GetTaskProtection", "ecs:DescribeServices"},
        ),
        ("ECS", "TaskExecutionRole", PULL_AND_LOG),
    ],
)
def test_worker_roles_grant_exactly_what_the_worker_needs(
    platform: str, role: str, expected: set[str]
) -> None:
    template = emulator.translate(parameters={"WorkerPlatform": platform})
    granted = {
        action
        for logical_id, statement in _policy_statements(template)
        if logical_id == role
        for action in _as_list(statement["Action"])
    }
    assert granted == expected


def test_the_task_may_describe_its_own_service_only() -> None:
    template = emulator.translate(parameters={"WorkerPlatform": "ECS"})
    [statement] = [
        statement
        for logical_id, statement in _policy_statements(template)
        if logical_id == "TaskRole" and "ecs:DescribeServices" in _as_list(statement["Action"])
    ]
    assert json.dumps(statement["Resource"]).endswith(
        ':service/${AWS::StackName}-cluster/${AWS::StackName}-workers"}'
    )
    # The worker finds its service by FLEET_NAME (Fargate's task metadata has no ServiceName).
    service = template["Resources"]["WorkerService"]["Properties"]
    [container] = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    environment = {variable["Name"]: variable["Value"] for variable in container["Environment"]}
    assert service["ServiceName"] == environment["FLEET_NAME"] == {"Fn::Sub": "${AWS::StackName}-workers"}
