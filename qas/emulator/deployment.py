"""Deploy the template on the moto server: the network its parameters need, the code bundle, the
stack, then what moto skipped (materialize)."""

from __future__ import annotations

import dataclasses
import io
import json
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from qas.emulator.account import CODE_BUCKET, CODE_KEY, REGION, TEMPLATE_PATH, JsonDict
from qas.emulator.intrinsics import getatt_parts
from qas.emulator.materialize import SKIPPED_TYPES, materialize_skipped, skipped_name
from qas.emulator.record import DeployedStack
from qas.emulator.server import client
from qas.emulator.translation import translate


@dataclass(frozen=True)
class Network:
    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_id: str


def create_network(endpoint: str, name: str = "queue-autoscaler") -> Network:
    """A VPC with two subnets in two zones and a security group, as a user would pass them."""
    ec2 = client(endpoint, "ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = tuple(
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{index}.0/24", AvailabilityZone=f"{REGION}{zone}")[
            "Subnet"
        ]["SubnetId"]
        for index, zone in enumerate("ab")
    )
    group_id = ec2.create_security_group(GroupName=f"{name}-workers", Description="workers", VpcId=vpc_id)[
        "GroupId"
    ]
    return Network(vpc_id=vpc_id, subnet_ids=subnets, security_group_id=group_id)


def _upload_code(endpoint: str, source: Path) -> None:
    """The Lambda bundle where the translated template says it is (moto checks the object exists)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*.py")):
            archive.write(path, path.relative_to(source).as_posix())
    s3 = client(endpoint, "s3")
    s3.create_bucket(Bucket=CODE_BUCKET)
    s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=buffer.getvalue())


def _ensure_ami_parameter(endpoint: str, template: JsonDict, parameters: Mapping[str, str]) -> None:
    """Publish the public AMI parameters the template reads, when moto does not know them."""
    ssm = client(endpoint, "ssm")
    ec2 = client(endpoint, "ec2")
    for name, spec in template.get("Parameters", {}).items():
        if not str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::Value"):
            continue
        path = parameters.get(name, spec.get("Default"))
        if not path:
            continue
        try:
            ssm.get_parameter(Name=path)
        except ssm.exceptions.ParameterNotFound:
            image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
            ssm.put_parameter(Name=path, Value=image_id, Type="String", DataType="aws:ec2:image")


def deploy(
    endpoint: str,
    stack_name: str,
    parameters: Mapping[str, str] | None = None,
    platform: str = "EC2",
    *,
    template_path: Path = TEMPLATE_PATH,
    materialize: bool = True,
    timeout_s: float = 60.0,
) -> DeployedStack:
    """Create the stack on the moto server and the resources moto skips; see the module docstring."""
    given = dict(parameters or {})
    given["WorkerPlatform"] = platform
    if "SubnetIds" not in given or "SecurityGroupIds" not in given:
        network = create_network(endpoint, stack_name)
        given.setdefault("SubnetIds", ",".join(network.subnet_ids))
        given.setdefault("SecurityGroupIds", network.security_group_id)

    template = translate(template_path, given)
    _upload_code(endpoint, template_path.parent / "src")
    effective = effective_parameters(template, given)
    _ensure_ami_parameter(endpoint, template, effective)

    body = _substitute_skipped_names(template, stack_name)
    _name_repositories(body, stack_name)
    cfn = client(endpoint, "cloudformation")
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(body),
        # Every value, defaults included: moto leaves a list parameter's default unsplit.
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in effective.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = _wait_for_stack(cfn, stack_name, timeout_s)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        reason = stack.get("StackStatusReason", "")
        raise RuntimeError(f"stack {stack_name} ended in {stack['StackStatus']}: {reason}")

    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    physical = {
        summary["LogicalResourceId"]: summary["PhysicalResourceId"]
        for summary in _paginate(cfn, "list_stack_resources", "StackResourceSummaries", StackName=stack_name)
        if summary["LogicalResourceId"]  # moto lists what it skipped as empty entries
    }
    deployed = DeployedStack(
        endpoint=endpoint,
        stack_name=stack_name,
        platform=platform,
        parameters=effective,
        outputs=outputs,
        physical_ids=physical,
        template=template,
    )
    if not materialize:
        return deployed
    return dataclasses.replace(deployed, scaling=materialize_skipped(endpoint, deployed))


def _paginate(api: Any, operation: str, key: str, **kwargs: Any) -> list[JsonDict]:
    items: list[JsonDict] = []
    for page in api.get_paginator(operation).paginate(**kwargs):
        items.extend(page[key])
    return items


def _wait_for_stack(cfn: Any, stack_name: str, timeout_s: float) -> JsonDict:
    # moto creates stacks synchronously; the loop keeps this right if it ever does not.
    deadline = time.monotonic() + timeout_s
    while True:
        stack = cast(JsonDict, cfn.describe_stacks(StackName=stack_name)["Stacks"][0])
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return stack
        time.sleep(0.2)


def effective_parameters(template: JsonDict, given: Mapping[str, str]) -> dict[str, str]:
    """Every parameter's value: the given one, else the template's default."""
    values: dict[str, str] = {}
    for name, spec in template.get("Parameters", {}).items():
        if name in given:
            values[name] = str(given[name])
        elif "Default" in spec:
            values[name] = str(spec["Default"])
    return values


def _substitute_skipped_names(template: JsonDict, stack_name: str) -> JsonDict:
    """Replace ``GetAtt <skipped EC2 policy>.PolicyName`` by the name materialize_skipped gives it."""
    skipped = {
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in SKIPPED_TYPES
    }

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Fn::GetAtt"}:
                target, attribute = getatt_parts(node["Fn::GetAtt"])
                if target in skipped:
                    if attribute != "PolicyName":
                        raise ValueError(f"moto cannot resolve GetAtt {target}.{attribute}")
                    return skipped_name(stack_name, target)
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return cast(JsonDict, walk(template))


def _name_repositories(template: JsonDict, stack_name: str) -> None:
    """moto generates ECR names with the logical id's capitals, which ECR then rejects; CloudFormation
    generates lower-case ones. Name unnamed repositories the way CloudFormation would."""
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::ECR::Repository":
            props = resource.setdefault("Properties", {})
            props.setdefault("RepositoryName", f"{stack_name}-{logical_id}".lower())
