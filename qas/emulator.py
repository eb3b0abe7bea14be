"""Deploy template.yaml on a local moto server: the shared emulator of the tests and the demo.

Nothing here talks to AWS: the server listens on 127.0.0.1, the clients carry fake credentials.

API
---
``start_server() -> EmulatorServer``
    A ``moto.server.ThreadedMotoServer`` on 127.0.0.1, port 0 (a free port). ``server.endpoint`` is
    its URL; ``server.stop()`` stops it; it is also a context manager. ``server.reset()`` empties it.

``translate(template_path, parameters=None) -> dict``
    The SAM template as plain CloudFormation (samtranslator, offline, fixed fake account/region).

``deploy(endpoint, stack_name, parameters=None, platform="EC2") -> DeployedStack``
    Creates what the template's parameters need (VPC, two subnets, a security group), creates the
    stack with CloudFormation on the server, waits for CREATE_COMPLETE, then calls
    ``materialize_skipped``. Returns the outputs, the physical ids, the translated template, the
    effective parameters and the materialized scaling resources.

``materialize_skipped(endpoint, stack) -> ScalingResources``
    moto's CloudFormation silently skips scaling policies, scalable targets, CloudWatch alarms,
    SQS queue policies and SNS topic policies. This creates them through the service APIs
    (resolving Ref, Sub, GetAtt, If, Select, Split, Join against the stack's parameters and
    physical ids), so the tuner can describe and update the real policy and the demo can read the
    alarms. Returns their definitions
    (``ScalingResources``: tracking policy, step policies, alarms, scalable target) in typed form.

``resolve(stack, node) -> Any``
    A fragment of the translated template resolved against a deployed stack (e.g. a role's policy).

``client(endpoint, service, max_attempts=3)``, ``create_network(endpoint)``, ``Resolver``
    Helpers: a boto3 client for the server, a VPC with two subnets and a security group, and the
    intrinsic-function resolver itself.

moto's state is one per process: every server and every ``mock_aws`` in it share it, and
``mock_aws`` (or ``server.reset()``) wipes it. Deploy again after anything else used moto.

Other moto gaps handled here: local ``CodeUri`` is rewritten to an uploaded S3 bundle (as
``sam package`` does); unnamed ECR repositories get CloudFormation's lower-case name (moto's own
contains capitals, which ECR rejects); every parameter is passed explicitly (moto leaves a list
parameter's default unsplit); SNS topic policies are materialized too.

moto also cannot return a generated attribute of a resource it skipped (``!GetAtt`` fails the stack;
``!Ref`` resolves to "None"). EC2 scaling policies cannot be named in CloudFormation, so the template
reads the name with ``!GetAtt Policy.PolicyName``: ``deploy`` substitutes the name it will give the
policy (``<stack>-<LogicalId>``, as CloudFormation names it) before creating the stack.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import time
import urllib.request
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import boto3
from botocore.config import Config
from botocore.model import Shape, StructureShape
from moto.server import ThreadedMotoServer
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

from qas import offline
from qas.offline import FAKE_CREDENTIALS

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
REGION = offline.REGION  # where the emulator deploys
ACCOUNT_ID = "123456789012"  # moto's default account
PARTITION = "aws"
CODE_BUCKET = "queue-autoscaler-emulated-code"
CODE_KEY = "src.zip"

# Resource types moto's CloudFormation accepts but does not create.
SKIPPED_TYPES = frozenset(
    {
        "AWS::AutoScaling::ScalingPolicy",
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        "AWS::CloudWatch::Alarm",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
    }
)

JsonDict = dict[str, Any]
SKIPPED_WARNING = "Tried to parse .* not supported by moto"


# ---------------------------------------------------------------- server


def _not_skipped_resource_log(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("No Moto CloudFormation support")


class EmulatorServer:
    """A moto server on 127.0.0.1 and a free port."""

    def __init__(self) -> None:
        # werkzeug logs every request to stderr otherwise, and moto warns once per resource it skips
        # on every stack (materialize_skipped creates exactly those).
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        logging.getLogger("moto").addFilter(_not_skipped_resource_log)
        warnings.filterwarnings("ignore", message=SKIPPED_WARNING)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def reset(self) -> None:
        """Forget every resource (moto's reset API), keeping the server up."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
            response.read()

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_server() -> EmulatorServer:
    """Start a moto server on 127.0.0.1 (free port); stop it with ``.stop()`` or ``with``."""
    return EmulatorServer()


@contextmanager
def running_server() -> Iterator[EmulatorServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


def client(endpoint: str, service: str, *, max_attempts: int = 3) -> Any:
    """A boto3 client for the emulator (fake credentials, fixed region, few retries)."""
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(retries={"mode": "standard", "max_attempts": max_attempts}),
        **FAKE_CREDENTIALS,
    )


# ---------------------------------------------------------------- translation


def _no_managed_policy_names() -> dict[str, str]:
    """The template names managed policies by ARN; nothing needs IAM's list of policy names."""
    return {}


def load_template(template_path: Path = TEMPLATE_PATH) -> JsonDict:
    """The SAM template as a dict, with the short intrinsic forms expanded (!Ref -> {"Ref": ...})."""
    return cast(JsonDict, yaml_parse(template_path.read_text()))


def translate(template_path: Path = TEMPLATE_PATH, parameters: Mapping[str, str] | None = None) -> JsonDict:
    """The SAM template translated to plain CloudFormation, offline.

    Local ``CodeUri`` paths become ``s3://CODE_BUCKET/CODE_KEY`` as ``sam package`` would make them
    (``deploy`` uploads the bundle there).
    """
    sam = load_template(template_path)
    globals_ = sam.get("Globals", {}).get("Function", {})
    if "CodeUri" in globals_ and not str(globals_["CodeUri"]).startswith("s3://"):
        globals_["CodeUri"] = f"s3://{CODE_BUCKET}/{CODE_KEY}"
    for resource in sam["Resources"].values():
        props = resource.get("Properties") or {}
        code_uri = props.get("CodeUri")
        is_function = resource["Type"] == "AWS::Serverless::Function"
        if is_function and isinstance(code_uri, str) and not code_uri.startswith("s3://"):
            props["CodeUri"] = f"s3://{CODE_BUCKET}/{CODE_KEY}"
    values: dict[str, Any] = {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": PARTITION,
        "AWS::StackName": "emulated",
        "AWS::URLSuffix": "amazonaws.com",
    }
    values.update(parameters or {})
    # Translator instead of samtranslator's transform(): it takes a session, so the region does not
    # come from the environment.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    try:
        translated = translator.translate(
            sam, parameter_values=values, get_managed_policy_map=_no_managed_policy_names
        )
    except InvalidDocumentException as error:
        messages = "; ".join(str(cause) for cause in error.causes)
        raise ValueError(f"SAM translation failed: {messages}") from error
    # The transform's output is JSON-safe except for the odd tuple; normalise it once.
    return cast(JsonDict, json.loads(json.dumps(translated)))


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class MetricQuery:
    """One entry of an alarm's ``Metrics``: a metric (MetricStat) or an expression."""

    id: str
    return_data: bool
    expression: str | None = None
    namespace: str | None = None
    metric_name: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    stat: str | None = None
    period: int | None = None
    label: str | None = None


@dataclass(frozen=True)
class AlarmDefinition:
    logical_id: str
    name: str
    comparison_operator: str
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str
    alarm_actions: tuple[str, ...]
    ok_actions: tuple[str, ...]
    # A metric-math alarm has ``metrics``; a single-metric alarm the five fields below.
    metrics: tuple[MetricQuery, ...] = ()
    namespace: str | None = None
    metric_name: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    statistic: str | None = None
    period: int | None = None

    @property
    def expression(self) -> str | None:
        """The metric-math expression whose value the alarm compares, if any."""
        for query in self.metrics:
            if query.return_data and query.expression:
                return query.expression
        return None


@dataclass(frozen=True)
class StepAdjustment:
    lower_bound: float | None
    upper_bound: float | None
    scaling_adjustment: int


@dataclass(frozen=True)
class StepPolicyDefinition:
    logical_id: str
    name: str
    arn: str
    adjustment_type: str
    steps: tuple[StepAdjustment, ...]
    metric_aggregation_type: str | None
    cooldown_s: int | None


@dataclass(frozen=True)
class TrackingPolicyDefinition:
    logical_id: str
    name: str
    arn: str
    target_value: float
    namespace: str
    metric_name: str
    dimensions: dict[str, str]
    statistic: str
    period_s: int  # 60 unless the EC2 policy sets Period (high resolution)
    disable_scale_in: bool
    scale_out_cooldown_s: int | None  # ECS only
    scale_in_cooldown_s: int | None  # ECS only


@dataclass(frozen=True)
class ScalableTargetDefinition:
    resource_id: str
    scalable_dimension: str
    min_capacity: int
    max_capacity: int


@dataclass(frozen=True)
class ScalingResources:
    """What moto skipped, now created through the APIs, in the form the control-plane model wants."""

    platform: str
    fleet_name: str
    min_capacity: int
    max_capacity: int
    instance_warmup_s: int | None  # EC2 DefaultInstanceWarmup
    tracking_policy: TrackingPolicyDefinition
    step_policies: dict[str, StepPolicyDefinition]  # by logical id
    alarms: dict[str, AlarmDefinition]  # by logical id
    scalable_target: ScalableTargetDefinition | None  # ECS only
    queue_policies: dict[str, JsonDict]  # queue URL -> policy document

    def policy_of(self, alarm: AlarmDefinition) -> StepPolicyDefinition | None:
        """The step policy an alarm triggers, if its action is one."""
        by_arn = {policy.arn: policy for policy in self.step_policies.values()}
        for action in alarm.alarm_actions:
            if action in by_arn:
                return by_arn[action]
        return None

    @property
    def bootstrap(self) -> tuple[AlarmDefinition, StepPolicyDefinition]:
        return self._alarm_with_policy("BootstrapAlarm")

    @property
    def shutdown(self) -> tuple[AlarmDefinition, StepPolicyDefinition]:
        return self._alarm_with_policy("ShutdownAlarm")

    def _alarm_with_policy(self, logical_id: str) -> tuple[AlarmDefinition, StepPolicyDefinition]:
        alarm = self.alarms[logical_id]
        policy = self.policy_of(alarm)
        if policy is None:
            raise LookupError(f"{logical_id} triggers no step policy")
        return alarm, policy


@dataclass(frozen=True)
class DeployedStack:
    endpoint: str
    stack_name: str
    platform: str
    parameters: dict[str, str]  # effective values: defaults plus what was passed
    outputs: dict[str, str]
    physical_ids: dict[str, str]  # logical id -> physical id, for what moto created
    template: JsonDict  # the translated template
    scaling: ScalingResources | None = None


# ---------------------------------------------------------------- prerequisites


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


# ---------------------------------------------------------------- deployment


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


def _skipped_name(stack_name: str, logical_id: str) -> str:
    """The name CloudFormation would generate for an unnamed policy (minus its random suffix)."""
    return f"{stack_name}-{logical_id}"


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
                target, attribute = _getatt_parts(node["Fn::GetAtt"])
                if target in skipped:
                    if attribute != "PolicyName":
                        raise ValueError(f"moto cannot resolve GetAtt {target}.{attribute}")
                    return _skipped_name(stack_name, target)
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


def _getatt_parts(value: Any) -> tuple[str, str]:
    if isinstance(value, str):
        target, _, attribute = value.partition(".")
        return target, attribute
    return str(value[0]), str(value[1])


# ---------------------------------------------------------------- intrinsic functions


class _NoValue:
    """AWS::NoValue: the property is removed."""


NO_VALUE = _NoValue()


class Resolver:
    """Resolves CloudFormation intrinsic functions against one deployed stack."""

    def __init__(
        self,
        template: JsonDict,
        parameters: Mapping[str, str],
        stack_name: str,
        ref: Callable[[str], str],
        get_att: Callable[[str, str], str],
    ) -> None:
        self._template = template
        self._stack_name = stack_name
        self._ref = ref
        self._get_att = get_att
        self._parameters: dict[str, Any] = {}
        for name, spec in template.get("Parameters", {}).items():
            if name not in parameters:
                continue
            value = parameters[name]
            kind = str(spec.get("Type", "String"))
            is_list = kind.startswith("List<") or kind == "CommaDelimitedList"
            self._parameters[name] = [item.strip() for item in value.split(",")] if is_list else value
        self._conditions: dict[str, bool] = {}

    def pseudo(self, name: str) -> str:
        return {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::StackName": self._stack_name,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{self._stack_name}/emulated",
        }[name]

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self._template["Conditions"][name]))
        return self._conditions[name]

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in (self.resolve(value) for value in node) if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, value), *_ = node.items()
            handler = self._functions().get(key)
            if handler is not None:
                return handler(value)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self._fn_ref,
            "Fn::GetAtt": lambda value: self._get_att(*_getatt_parts(self.resolve(value))),
            "Fn::Sub": self._fn_sub,
            "Fn::Join": lambda value: str(self.resolve(value[0])).join(
                str(item) for item in self.resolve(value[1])
            ),
            "Fn::Select": lambda value: self.resolve(value[1])[int(self.resolve(value[0]))],
            "Fn::Split": lambda value: str(self.resolve(value[1])).split(str(self.resolve(value[0]))),
            "Fn::If": lambda value: self.resolve(value[1] if self.condition(value[0]) else value[2]),
            "Fn::Equals": lambda value: str(self.resolve(value[0])) == str(self.resolve(value[1])),
            "Fn::Not": lambda value: not self.resolve(value[0]),
            "Fn::And": lambda value: all(self.resolve(item) for item in value),
            "Fn::Or": lambda value: any(self.resolve(item) for item in value),
            "Condition": self.condition,
        }

    def _fn_ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self._parameters:
            return self._parameters[name]
        return self._ref(name)

    def _fn_sub(self, value: Any) -> str:
        if isinstance(value, str):
            text, variables = value, {}
        else:
            text, variables = value[0], {key: self.resolve(item) for key, item in value[1].items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name:
                return str(self._get_att(*_getatt_parts(name)))
            resolved = self._fn_ref(name)
            return ",".join(resolved) if isinstance(resolved, list) else str(resolved)

        return re.sub(r"\$\{([^}]+)\}", replace, text)


# ---------------------------------------------------------------- materialize what moto skips


def materialize_skipped(endpoint: str, stack: DeployedStack) -> ScalingResources:
    """Create the skipped scaling target, policies, alarms and queue policies; return their definitions."""
    return _Materializer(endpoint, stack).run()


def resolve(stack: DeployedStack, node: Any) -> Any:
    """A fragment of the translated template with its intrinsic functions resolved against the
    deployed stack (e.g. a role's policy statements with real ARNs). Refs to skipped resources fail."""
    return _Materializer(stack.endpoint, stack, create_skipped=False).resolver.resolve(node)


class _Materializer:
    def __init__(self, endpoint: str, stack: DeployedStack, *, create_skipped: bool = True) -> None:
        self._endpoint = endpoint
        self._stack = stack
        self._create_skipped = create_skipped
        self._resources: JsonDict = stack.template["Resources"]
        self._created: dict[str, str] = {}  # logical id -> what Ref returns for a materialized resource
        self.resolver = Resolver(stack.template, stack.parameters, stack.stack_name, self._ref, self._get_att)
        self._step_policies: dict[str, StepPolicyDefinition] = {}
        self._tracking: TrackingPolicyDefinition | None = None
        self._target: ScalableTargetDefinition | None = None
        self._alarms: dict[str, AlarmDefinition] = {}
        self._queue_policies: dict[str, JsonDict] = {}

    # -- Ref / GetAtt against the stack

    def _ref(self, logical_id: str) -> str:
        if logical_id in self._created:
            return self._created[logical_id]
        if logical_id in self._stack.physical_ids:
            return self._stack.physical_ids[logical_id]
        resource = self._resources.get(logical_id)
        if resource is not None and resource["Type"] in SKIPPED_TYPES and self._create_skipped:
            self._materialize(logical_id)
            return self._created[logical_id]
        raise KeyError(f"cannot resolve Ref {logical_id}: not created in the stack")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        resource_type = self._resources[logical_id]["Type"]
        physical = self._ref(logical_id)
        if resource_type == "AWS::SQS::Queue":
            if attribute == "QueueName":
                return physical.rstrip("/").rsplit("/", 1)[-1]
            if attribute == "Arn":
                attrs = client(self._endpoint, "sqs").get_queue_attributes(
                    QueueUrl=physical, AttributeNames=["QueueArn"]
                )
                return str(attrs["Attributes"]["QueueArn"])
        if resource_type == "AWS::ECS::Service" and attribute == "Name":
            return physical.rsplit("/", 1)[-1]
        if resource_type == "AWS::AutoScaling::ScalingPolicy" and attribute == "PolicyName":
            return _skipped_name(self._stack.stack_name, logical_id)
        if resource_type == "AWS::ECR::Repository" and attribute == "RepositoryUri":
            return str(self._stack.outputs.get("WorkerRepositoryUri", physical))
        raise NotImplementedError(f"GetAtt {logical_id}.{attribute} ({resource_type})")

    # -- creation

    def run(self) -> ScalingResources:
        for logical_id, resource in self._resources.items():
            if resource["Type"] in SKIPPED_TYPES and self._active(resource):
                self._materialize(logical_id)
        if self._tracking is None:
            raise LookupError("the template has no target-tracking policy")
        platform = self._stack.platform
        fleet = self._stack.outputs["FleetName"]
        warmup: int | None = None
        if platform == "EC2":
            group = client(self._endpoint, "autoscaling").describe_auto_scaling_groups(
                AutoScalingGroupNames=[fleet]
            )["AutoScalingGroups"][0]
            low, high = int(group["MinSize"]), int(group["MaxSize"])
            # moto's CloudFormation drops DefaultInstanceWarmup: read it from the template.
            try:
                group_props = self._resources[self._logical_of_type("AWS::AutoScaling::AutoScalingGroup")]
            except LookupError:  # attach mode: the group is not the stack's; its own setting, if moto kept it
                raw = group.get("DefaultInstanceWarmup")
            else:
                raw = group_props.get("Properties", {}).get("DefaultInstanceWarmup")
            warmup = None if raw is None else int(self.resolver.resolve(raw))
        else:
            if self._target is None:
                raise LookupError("the ECS stack has no scalable target")
            low, high = self._target.min_capacity, self._target.max_capacity
        return ScalingResources(
            platform=platform,
            fleet_name=fleet,
            min_capacity=low,
            max_capacity=high,
            instance_warmup_s=warmup,
            tracking_policy=self._tracking,
            step_policies=dict(self._step_policies),
            alarms=dict(self._alarms),
            scalable_target=self._target,
            queue_policies=dict(self._queue_policies),
        )

    def _active(self, resource: JsonDict) -> bool:
        condition = resource.get("Condition")
        return condition is None or self.resolver.condition(condition)

    def _logical_of_type(self, resource_type: str) -> str:
        for logical_id, resource in self._resources.items():
            if resource["Type"] == resource_type and self._active(resource):
                return logical_id
        raise LookupError(f"no active {resource_type} in the template")

    def _resolved_properties(self, logical_id: str) -> JsonDict:
        return cast(JsonDict, self.resolver.resolve(self._resources[logical_id].get("Properties", {})))

    def _materialize(self, logical_id: str) -> None:
        if logical_id in self._created:
            return
        resource_type = self._resources[logical_id]["Type"]
        props = self._resolved_properties(logical_id)
        create = {
            "AWS::ApplicationAutoScaling::ScalableTarget": self._scalable_target,
            "AWS::ApplicationAutoScaling::ScalingPolicy": self._ecs_policy,
            "AWS::AutoScaling::ScalingPolicy": self._ec2_policy,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::SQS::QueuePolicy": self._queue_policy,
            "AWS::SNS::TopicPolicy": self._topic_policy,
        }[resource_type]
        self._created[logical_id] = create(logical_id, props)

    def _scalable_target(self, logical_id: str, props: JsonDict) -> str:
        api = client(self._endpoint, "application-autoscaling")
        request = _coerce(api, "RegisterScalableTarget", props)
        api.register_scalable_target(**request)
        self._target = ScalableTargetDefinition(
            resource_id=request["ResourceId"],
            scalable_dimension=request["ScalableDimension"],
            min_capacity=request["MinCapacity"],
            max_capacity=request["MaxCapacity"],
        )
        # What CloudFormation's Ref returns for a scalable target.
        return f"{request['ResourceId']}|{request['ScalableDimension']}|{request['ServiceNamespace']}"

    def _ecs_policy(self, logical_id: str, props: JsonDict) -> str:
        api = client(self._endpoint, "application-autoscaling")
        target_id = props.pop("ScalingTargetId", None)
        if target_id is not None:
            resource_id, dimension, namespace = str(target_id).split("|")
            props.update(ResourceId=resource_id, ScalableDimension=dimension, ServiceNamespace=namespace)
        request = _coerce(api, "PutScalingPolicy", props)
        arn = str(api.put_scaling_policy(**request)["PolicyARN"])
        tracking = request.get("TargetTrackingScalingPolicyConfiguration")
        self._record_policy(logical_id, request, arn, tracking, request.get("StepScalingPolicyConfiguration"))
        return arn

    def _ec2_policy(self, logical_id: str, props: JsonDict) -> str:
        api = client(self._endpoint, "autoscaling")
        props.setdefault("PolicyName", _skipped_name(self._stack.stack_name, logical_id))
        request = _coerce(api, "PutScalingPolicy", props)
        api.put_scaling_policy(**request)
        # moto's put response names it PolicyArn (AWS: PolicyARN), which botocore drops: describe it.
        described = api.describe_policies(
            AutoScalingGroupName=request["AutoScalingGroupName"], PolicyNames=[request["PolicyName"]]
        )["ScalingPolicies"]
        arn = str(described[0]["PolicyARN"])
        # EC2 step policies keep their step settings at the top level of the request.
        self._record_policy(logical_id, request, arn, request.get("TargetTrackingConfiguration"), request)
        return arn

    def _record_policy(
        self, logical_id: str, request: JsonDict, arn: str, tracking: JsonDict | None, step: JsonDict | None
    ) -> None:
        """Keep the typed definition of a policy just created (EC2 and ECS differ only in where)."""
        name = request["PolicyName"]
        if request["PolicyType"] == "TargetTrackingScaling":
            self._tracking = _tracking_definition(logical_id, name, arn, cast(JsonDict, tracking))
        else:
            self._step_policies[logical_id] = _step_definition(logical_id, name, arn, cast(JsonDict, step))

    def _alarm(self, logical_id: str, props: JsonDict) -> str:
        api = client(self._endpoint, "cloudwatch")
        props.setdefault("AlarmName", _skipped_name(self._stack.stack_name, logical_id))
        request = _coerce(api, "PutMetricAlarm", props)
        api.put_metric_alarm(**request)
        self._alarms[logical_id] = _alarm_definition(logical_id, request)
        return str(request["AlarmName"])

    def _queue_policy(self, logical_id: str, props: JsonDict) -> str:
        api = client(self._endpoint, "sqs")
        document = props["PolicyDocument"]
        for queue_url in props["Queues"]:
            api.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(document)})
            self._queue_policies[str(queue_url)] = document
        return _skipped_name(self._stack.stack_name, logical_id)

    def _topic_policy(self, logical_id: str, props: JsonDict) -> str:
        api = client(self._endpoint, "sns")
        for topic_arn in props["Topics"]:
            api.set_topic_attributes(
                TopicArn=topic_arn, AttributeName="Policy", AttributeValue=json.dumps(props["PolicyDocument"])
            )
        return _skipped_name(self._stack.stack_name, logical_id)


def _coerce(api: Any, operation: str, params: JsonDict) -> JsonDict:
    """CloudFormation properties -> API parameters: the same names, but numbers and booleans arrive
    as strings from parameters; the operation's own input shape says what each one must be."""
    shape = api.meta.service_model.operation_model(operation).input_shape
    return cast(JsonDict, _coerce_value(shape, params))


def _coerce_value(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members = cast(StructureShape, shape).members
        return {key: _coerce_value(members[key], item) for key, item in value.items() if key in members}
    if kind == "list":
        return [_coerce_value(shape.member, item) for item in value]  # type: ignore[attr-defined]
    if kind in ("integer", "long"):
        return int(float(value))
    if kind in ("double", "float"):
        return float(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "string":
        return str(value)
    return value


def _dimensions(items: list[JsonDict] | None) -> dict[str, str]:
    return {str(item["Name"]): str(item["Value"]) for item in items or []}


def _tracking_definition(logical_id: str, name: str, arn: str, config: JsonDict) -> TrackingPolicyDefinition:
    metric = config["CustomizedMetricSpecification"]
    return TrackingPolicyDefinition(
        logical_id=logical_id,
        name=name,
        arn=arn,
        target_value=float(config["TargetValue"]),
        namespace=metric["Namespace"],
        metric_name=metric["MetricName"],
        dimensions=_dimensions(metric.get("Dimensions")),
        statistic=metric["Statistic"],
        period_s=int(metric.get("Period", 60)),
        disable_scale_in=bool(config.get("DisableScaleIn", False)),
        scale_out_cooldown_s=config.get("ScaleOutCooldown"),
        scale_in_cooldown_s=config.get("ScaleInCooldown"),
    )


def _step_definition(logical_id: str, name: str, arn: str, config: JsonDict) -> StepPolicyDefinition:
    return StepPolicyDefinition(
        logical_id=logical_id,
        name=name,
        arn=arn,
        adjustment_type=config["AdjustmentType"],
        steps=tuple(
            StepAdjustment(
                lower_bound=step.get("MetricIntervalLowerBound"),
                upper_bound=step.get("MetricIntervalUpperBound"),
                scaling_adjustment=int(step["ScalingAdjustment"]),
            )
            for step in config["StepAdjustments"]
        ),
        metric_aggregation_type=config.get("MetricAggregationType"),
        cooldown_s=config.get("Cooldown"),
    )


def _alarm_definition(logical_id: str, request: JsonDict) -> AlarmDefinition:
    queries = tuple(
        MetricQuery(
            id=query["Id"],
            return_data=bool(query.get("ReturnData", True)),
            expression=query.get("Expression"),
            namespace=query.get("MetricStat", {}).get("Metric", {}).get("Namespace"),
            metric_name=query.get("MetricStat", {}).get("Metric", {}).get("MetricName"),
            dimensions=_dimensions(query.get("MetricStat", {}).get("Metric", {}).get("Dimensions")),
            stat=query.get("MetricStat", {}).get("Stat"),
            period=query.get("MetricStat", {}).get("Period"),
            label=query.get("Label"),
        )
        for query in request.get("Metrics", [])
    )
    evaluation_periods = int(request["EvaluationPeriods"])
    return AlarmDefinition(
        logical_id=logical_id,
        name=request["AlarmName"],
        comparison_operator=request["ComparisonOperator"],
        threshold=float(request["Threshold"]),
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=int(request.get("DatapointsToAlarm", evaluation_periods)),
        treat_missing_data=request.get("TreatMissingData", "missing"),
        alarm_actions=tuple(request.get("AlarmActions", [])),
        ok_actions=tuple(request.get("OKActions", [])),
        metrics=queries,
        namespace=request.get("Namespace"),
        metric_name=request.get("MetricName"),
        dimensions=_dimensions(request.get("Dimensions")),
        statistic=request.get("Statistic"),
        period=request.get("Period"),
    )
