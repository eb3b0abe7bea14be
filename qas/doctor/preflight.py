"""`qas doctor preflight`: what would make a deploy of one samconfig environment fail on real AWS."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from qas import emulator
from qas.doctor import config, network, warm_pool
from qas.doctor.findings import Finding, note, ok, problem
from qas.doctor.parameters import check_parameters
from queue_autoscaler.common.platform import Platform
from queue_autoscaler.common.regions import queue_region

SERVICE_LINKED_ROLE = "AWSServiceRoleForECS"
SERVICE_LINKED_ROLE_PATH = "/aws-service-role/ecs.amazonaws.com/"
_ECR_URI = re.compile(
    r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)(?::([^@]+))?(@.+)?$"
)
# Service Quotas codes of the vCPU limits (Service Quotas console, "Running On-Demand ... instances").
STANDARD_FAMILIES = frozenset("acdhimrtz")
EC2_QUOTAS = {  # family letters -> (On-Demand code, Spot code)
    "standard": ("L-1216C47A", "L-34B43A08"),
    "g": ("L-DB2E81BA", "L-3819A6DF"),
    "p": ("L-417A185B", "L-7212CCBC"),
}
FARGATE_QUOTAS = {"on-demand": "L-3032A538", "spot": "L-36FBB829"}


@dataclass(frozen=True)
class Preflight:
    deploy: config.DeployConfig
    values: dict[str, str]  # every parameter, defaults included
    region: str

    @property
    def platform(self) -> str:
        return self.values.get("WorkerPlatform", "EC2")

    def as_list(self, name: str) -> list[str]:
        return [item.strip() for item in self.values.get(name, "").split(",") if item.strip()]


def run(
    session: Any, deploy: config.DeployConfig, template_path: Path, *, sam_validate: bool = True
) -> list[Finding]:
    template = emulator.load_template(template_path)
    findings = check_parameters(template, deploy.parameters, claimed=warm_pool.RULES)
    values = config.effective_parameters(template, deploy.parameters)
    context = Preflight(deploy, values, session.region_name)
    stack = _stack_resources(session.client("cloudformation"), deploy.stack_name)
    ec2 = session.client("ec2")
    findings += network.check_subnets(ec2, context.as_list("SubnetIds"), context.platform, context.region)
    findings += network.check_security_groups(ec2, context.as_list("SecurityGroupIds"))
    findings.append(check_queue_regions(context))
    findings += ACCOUNT_CHECKS[Platform(context.platform)](session)
    findings.append(check_image(session.client("ecr"), context, stack))
    findings += check_quotas(session, context)
    findings += warm_pool.check_preflight(session, template, values)
    if sam_validate:
        findings.append(check_sam_validate(template_path))
    return findings


def _stack_resources(cfn: Any, stack_name: str) -> dict[str, str] | None:
    """Logical id -> physical id of the existing stack; None before its first deploy."""
    try:
        summaries = cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    except ClientError as err:
        if "does not exist" in str(err):
            return None
        raise
    return {item["LogicalResourceId"]: item.get("PhysicalResourceId", "") for item in summaries}


def check_queue_regions(context: Preflight) -> Finding:
    """Every existing queue in the stack's region (common.regions says why another cannot work). A
    template rule cannot check it: docs/aws-behaviour.md#cfn-rule-functions."""
    check = "queue region"
    queues = [("ExistingQueueArn", arn) for arn in context.as_list("ExistingQueueArn")]
    queues += [("ExtraQueueArns", arn) for arn in context.as_list("ExtraQueueArns")]
    elsewhere = [
        (name, arn, queue_region(arn)) for name, arn in queues if queue_region(arn) != context.region
    ]
    if elsewhere:
        name, arn, region = elsewhere[0]
        return problem(
            check,
            f"{name} {arn} is in {region}, the stack would be in {context.region}: every call would go to"
            f" {context.region}, where the queue does not exist, and the SLO alarm cannot watch another"
            " region's metrics",
            f"deploy the stack in {region} (--region {region}, or region in samconfig.toml), or use a queue"
            f" in {context.region}",
        )
    if not queues:
        return ok(check, "the stack creates its own queue")
    return ok(check, f"every existing queue is in {context.region}")


def check_service_linked_role(iam: Any) -> Finding:
    """AWSServiceRoleForECS must exist before the deploy: the stack does not create it, because a
    role created in the same deploy races the cluster that needs it (template.yaml, Cluster)."""
    check = "ECS service-linked role"  # docs/aws-behaviour.md#cfn-ecs-service-linked-role
    # By its path, which only the service-linked role of ECS has.
    pages = iam.get_paginator("list_roles").paginate(PathPrefix=SERVICE_LINKED_ROLE_PATH)
    if any(page["Roles"] for page in pages):
        return ok(check, f"{SERVICE_LINKED_ROLE} exists")
    return problem(
        check,
        f"{SERVICE_LINKED_ROLE} does not exist (an account that never used ECS): the cluster would fail"
        " to create",
        "aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com (once per account),"
        " then run this again",
    )


def check_image(ecr: Any, context: Preflight, stack: Mapping[str, str] | None) -> Finding:
    check = "worker image"
    uri = context.values.get("WorkerImageUri", "")
    if uri:
        match = _ECR_URI.match(uri)
        if not match or match.group(2) != context.region:
            return note(check, f"{uri} is not in this region's ECR; not checked")
        repository, tag, digest = match.group(3), match.group(4), match.group(5)
        image = {"imageDigest": digest[1:]} if digest else {"imageTag": tag or "latest"}
        return _image_present(ecr, repository, image, uri, match.group(1))
    tag = context.values.get("WorkerImageTag", "v1")
    repository = (stack or {}).get("WorkerRepository")
    if context.values.get("MaxCapacity") == "0":
        return ok(check, f"the fleet is off (MaxCapacity=0): {tag} is not needed until MaxCapacity is set")
    if not repository:
        return FIRST_DEPLOY[Platform(context.platform)](check, tag)
    return _image_present(ecr, repository, {"imageTag": tag}, f"{repository}:{tag}", None)


def _ec2_first_deploy(check: str, tag: str) -> Finding:
    return note(
        check,
        f"first deploy: the group starts at 0; push {tag} to WorkerRepositoryUri before messages arrive,"
        " or deploy with MaxCapacity=0 first (docs/deploy.md, first deploy)",
    )


def _ecs_first_deploy(check: str, tag: str) -> Finding:
    # ECS starts one task when it creates the service, the create waits for it, and the
    # stack's repository (created by the same deploy) cannot hold the image yet.
    return problem(
        check,
        "first deploy: ECS would start a task that cannot pull the worker image (the stack's"
        " repository does not exist yet) and the deploy would roll back",
        "deploy with MaxCapacity=0 first, push the image to WorkerRepositoryUri, then deploy with"
        " your MaxCapacity (docs/deploy.md, first deploy)",
    )


def _image_present(
    ecr: Any, repository: str, image: dict[str, str], label: str, account: str | None
) -> Finding:
    check = "worker image"
    kwargs: dict[str, Any] = {"repositoryName": repository, "imageIds": [image]}
    if account:
        kwargs["registryId"] = account
    try:
        ecr.describe_images(**kwargs)
    except ecr.exceptions.ImageNotFoundException:
        return problem(
            check,
            f"{label} is not in the repository: instances and tasks would fail to pull it",
            "build and push it (docs/deploy.md, step 3), or set WorkerImageTag to a pushed tag",
        )
    except ecr.exceptions.RepositoryNotFoundException:
        return problem(check, f"repository {repository} does not exist", "fix WorkerImageUri")
    return ok(check, f"{label} is in the repository")


def _quota(quotas: Any, service: str, code: str) -> float | None:
    try:
        return float(quotas.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"])
    except ClientError:  # not readable (permissions, or not a quota of this region): say so
        return None


def _quota_finding(name: str, service: str, code: str, needed: int, value: float | None) -> Finding:
    check = "quotas"
    if value is None:
        return note(check, f"{name} quota ({code}) could not be read; MaxCapacity needs {needed} vCPUs")
    if needed > value:
        return problem(
            check,
            f"MaxCapacity needs {needed} vCPUs of {name} but the quota is {value:g}",
            f"aws service-quotas request-service-quota-increase --service-code {service} --quota-code {code}"
            f" --desired-value {needed}, or lower MaxCapacity",
        )
    return ok(check, f"{name}: {needed} vCPUs needed at MaxCapacity, quota {value:g}")


QUOTA_NUMBERS = ("MaxCapacity", "TaskCpu", "OnDemandPercentage")  # what the quota checks multiply


def check_quotas(session: Any, context: Preflight) -> list[Finding]:
    bad = [f"{n}={v!r}" for n in QUOTA_NUMBERS if not (v := context.values.get(n, "0")).strip().isdigit()]
    if bad:  # the parameters check names it as a problem; the quotas cannot be counted without it
        return [note("quotas", f"not checked: {', '.join(bad)} is not a whole number")]
    return QUOTAS[Platform(context.platform)](session, context)


def _fargate_quotas(session: Any, context: Preflight) -> list[Finding]:
    quotas = session.client("service-quotas")
    capacity = int(context.values.get("MaxCapacity", "10"))
    needed = math.ceil(capacity * int(context.values.get("TaskCpu", "512")) / 1024)
    kind = "spot" if context.values.get("UseFargateSpot") == "true" else "on-demand"
    code = FARGATE_QUOTAS[kind]
    return [_quota_finding(f"Fargate {kind}", "fargate", code, needed, _quota(quotas, "fargate", code))]


def _ec2_quotas(session: Any, context: Preflight) -> list[Finding]:
    quotas = session.client("service-quotas")
    capacity = int(context.values.get("MaxCapacity", "10"))
    types = context.as_list("InstanceTypes")
    families = {name[0].lower() for name in types}
    family = (
        "standard" if families <= STANDARD_FAMILIES else next(iter(families)) if len(families) == 1 else ""
    )
    if family not in EC2_QUOTAS:
        return [note("quotas", f"instance families {', '.join(sorted(families))}: vCPU quota not checked")]
    try:
        described = session.client("ec2").describe_instance_types(InstanceTypes=types)["InstanceTypes"]
    except ClientError as err:
        return [problem("quotas", f"InstanceTypes: {err}", "fix InstanceTypes")]
    vcpus = max(item["VCpuInfo"]["DefaultVCpus"] for item in described)
    needed = capacity * vcpus
    on_demand = math.ceil(needed * int(context.values.get("OnDemandPercentage", "0")) / 100)
    on_demand_code, spot_code = EC2_QUOTAS[family]
    findings = []
    if on_demand:
        value = _quota(quotas, "ec2", on_demand_code)
        findings.append(_quota_finding("EC2 On-Demand", "ec2", on_demand_code, on_demand, value))
    if needed - on_demand:
        value = _quota(quotas, "ec2", spot_code)
        findings.append(_quota_finding("EC2 Spot", "ec2", spot_code, needed - on_demand, value))
    return findings


# Each platform's own preflight checks, by platform (tests/architecture/test_platform_seam.py: one per
# platform).
# The account: ECS needs its service-linked role before the first service.
ACCOUNT_CHECKS: dict[Platform, Callable[[Any], list[Finding]]] = {
    Platform.EC2: lambda session: [],
    Platform.ECS: lambda session: [check_service_linked_role(session.client("iam"))],
}
# A first deploy with the fleet on, before the stack's repository holds the image.
FIRST_DEPLOY: dict[Platform, Callable[[str, str], Finding]] = {
    Platform.EC2: _ec2_first_deploy,
    Platform.ECS: _ecs_first_deploy,
}
# The vCPU quotas MaxCapacity draws on.
QUOTAS: dict[Platform, Callable[[Any, Preflight], list[Finding]]] = {
    Platform.EC2: _ec2_quotas,
    Platform.ECS: _fargate_quotas,
}


def _sam() -> str:
    beside = Path(sys.executable).parent / "sam"
    return str(beside) if beside.exists() else shutil.which("sam") or "sam"


def check_sam_validate(template_path: Path) -> Finding:
    """`sam validate --lint` (offline: cfn-lint with the project's house rules from .cfnlintrc)."""
    command = [_sam(), "validate", "--lint", "--template", str(template_path)]
    try:
        result = subprocess.run(  # noqa: S603 (a fixed command line)
            command,
            cwd=template_path.parent,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        )
    except OSError as err:
        return problem("sam validate", f"cannot run the SAM CLI: {err}", "install it: make install")
    if result.returncode == 0:
        return ok("sam validate", "sam validate --lint passes")
    output = (result.stdout + result.stderr).strip().splitlines()
    return problem(
        "sam validate", "sam validate --lint fails: " + " | ".join(output[-5:]), "fix template.yaml"
    )
