"""IAM is sufficient and minimal: each handler runs through its paths against the deployed stack with
the environment the template gives it, every AWS call is recorded, and the function's role in the
translated template must allow exactly those actions (plus a documented allowlist) on the right
resources."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.client
import pytest

from qas import emulator
from qas.emulator.lambda_context import LocalLambdaContext
from queue_autoscaler.adapters import clients
from queue_autoscaler.metric_publisher import app as publisher_app
from queue_autoscaler.producer import app as producer_app
from queue_autoscaler.target_tuner import app as tuner_app
from tests.template.conftest import aws, deployed

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings(f"ignore:{emulator.SKIPPED_WARNING}")]

ARN_PREFIX = f"arn:aws:{{service}}:{emulator.REGION}:{emulator.ACCOUNT_ID}"

# Permissions a function needs without calling the API itself: Application Auto Scaling manages the
# target-tracking alarms and checks the service with the CALLER's permissions on PutScalingPolicy.
IMPLIED: dict[str, set[str]] = {
    "application-autoscaling:PutScalingPolicy": {
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:DeleteAlarms",
        "ecs:DescribeServices",
        "ecs:UpdateService",
    },
}
# What the Lambda runtime does with the function's role, not the handler: it writes the function's
# logs, and Tracing: Active sends X-Ray segments.
RUNTIME = ("logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords")


@dataclass(frozen=True)
class Call:
    action: str  # IAM form, e.g. sqs:GetQueueAttributes
    resource: str  # the ARN IAM evaluates, "*" for APIs without resource-level permissions
    namespace: str | None = None  # PutMetricData's cloudwatch:namespace condition key


class Recorder:
    """Every API call made through botocore while active: (service, operation, parameters)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.active = False


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recording = Recorder()
    original = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]

    def record(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if recording.active:
            recording.calls.append((self.meta.service_model.service_name, operation_name, api_params))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    return recording


def _run_as_function(
    monkeypatch: pytest.MonkeyPatch,
    recorder: Recorder,
    stack: emulator.DeployedStack,
    output: str,
    handler: Callable[..., Any],
) -> Any:
    """Call a handler with the deployed function's own environment, against the emulator."""
    config = aws(stack, "lambda").get_function_configuration(FunctionName=stack.outputs[output])
    for key, value in config["Environment"]["Variables"].items():
        monkeypatch.setenv(key, str(value))  # moto keeps Number parameters as numbers
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.endpoint)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    clients.reset_clients()
    for module in (publisher_app, tuner_app, producer_app):
        module.get_settings.cache_clear()
    context = LocalLambdaContext(function_name=stack.outputs[output], timeout_seconds=60)
    recorder.active = True
    try:
        return handler({}, context)
    finally:
        recorder.active = False
        clients.reset_clients()


def _calls(stack: emulator.DeployedStack, recorder: Recorder) -> set[Call]:
    """Recorded API calls -> the IAM action and resource each one is authorized against."""
    found: set[Call] = set()
    for service, operation, params in recorder.calls:
        action = f"{service}:{operation}"
        resource = "*"
        namespace = None
        if service == "sqs":
            name = params["QueueUrl"].rstrip("/").rsplit("/", 1)[1]
            resource = f"{ARN_PREFIX.format(service='sqs')}:{name}"
        elif service == "ecs" and operation == "DescribeServices":
            for name in params["services"]:
                found.add(
                    Call(action, f"{ARN_PREFIX.format(service='ecs')}:service/{params['cluster']}/{name}")
                )
            continue
        elif action == "autoscaling:PutScalingPolicy":
            (group,) = aws(stack, "autoscaling").describe_auto_scaling_groups(
                AutoScalingGroupNames=[params["AutoScalingGroupName"]]
            )["AutoScalingGroups"]
            resource = group["AutoScalingGroupARN"]
        elif action == "application-autoscaling:PutScalingPolicy":
            (target,) = aws(stack, "application-autoscaling").describe_scalable_targets(
                ServiceNamespace=params["ServiceNamespace"], ResourceIds=[params["ResourceId"]]
            )["ScalableTargets"]
            resource = target.get(
                "ScalableTargetARN", f"{ARN_PREFIX.format(service=service)}:scalable-target/x"
            )
            cluster, name = params["ResourceId"].split("/")[1:]
            implied_resources = {
                "cloudwatch": f"{ARN_PREFIX.format(service='cloudwatch')}:alarm:"
                f"TargetTracking-{params['ResourceId']}-AlarmHigh-0b1c2d3e",
                "ecs": f"{ARN_PREFIX.format(service='ecs')}:service/{cluster}/{name}",
            }
            for implied in IMPLIED[action]:
                implied_service = implied.split(":")[0]
                is_describe = implied == "cloudwatch:DescribeAlarms"
                found.add(Call(implied, "*" if is_describe else implied_resources[implied_service]))
        elif action == "cloudwatch:PutMetricData":
            namespace = params["Namespace"]
        found.add(Call(action, resource, namespace))
    return found


def _runtime_calls(stack: emulator.DeployedStack, function: str) -> set[Call]:
    name = stack.outputs[function]
    stream = f"{ARN_PREFIX.format(service='logs')}:log-group:/aws/lambda/{name}:log-stream:2026/01/01/x"
    return {Call(action, stream if action.startswith("logs:") else "*") for action in RUNTIME}


def _role_statements(stack: emulator.DeployedStack, function: str) -> list[dict[str, Any]]:
    role = stack.template["Resources"][f"{function}Role"]["Properties"]
    assert "ManagedPolicyArns" not in role  # everything the function may do is listed below
    statements: list[dict[str, Any]] = []
    for policy in role.get("Policies", []):
        statements.extend(emulator.resolve(stack, policy["PolicyDocument"])["Statement"])
    return statements


def _allows(statement: dict[str, Any], call: Call) -> bool:
    if statement["Effect"] != "Allow":
        return False
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    if call.action not in actions:
        return False
    if not any(fnmatch.fnmatchcase(call.resource, pattern) for pattern in resources):
        return False
    condition = statement.get("Condition")
    if condition is not None:
        assert condition == {"StringEquals": {"cloudwatch:namespace": call.namespace}}, condition
    return True


def _check_role(stack: emulator.DeployedStack, function: str, calls: set[Call]) -> None:
    statements = _role_statements(stack, function)
    calls = calls | _runtime_calls(stack, function)
    for call in calls:
        assert any(_allows(statement, call) for statement in statements), f"{function} cannot {call}"
    granted: set[str] = set()
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert "*" not in actions and not any(action.endswith("*") for action in actions)
        granted.update(actions)
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if "*" in resources:
            # Only where the action has no resource-level permissions: every recorded call of it
            # was authorized against "*" too.
            assert all(call.resource == "*" for call in calls if call.action in actions), statement
    assert granted == {call.action for call in calls}, f"{function} grants more than it uses"


# ---------------------------------------------------------------- the stacks


@pytest.fixture
def ec2_stack(server: emulator.EmulatorServer) -> emulator.DeployedStack:
    return deployed(server, "iam-ec2", {}, "EC2")


@pytest.fixture
def ecs_stack(server: emulator.EmulatorServer) -> emulator.DeployedStack:
    return deployed(server, "iam-ecs", {}, "ECS")


@pytest.fixture
def fifo_stack(server: emulator.EmulatorServer) -> emulator.DeployedStack:
    return deployed(server, "iam-fifo", {"QueueType": "FIFO"}, "EC2", materialize=False)


def _seed_durations(stack: emulator.DeployedStack) -> None:
    """60 measured durations (mean 10 s), as the workers publish them: enough for a decision."""
    aws(stack, "cloudwatch").put_metric_data(
        Namespace=stack.parameters["MetricNamespace"],
        MetricData=[
            {
                "MetricName": "MsgProcessingDuration",
                "Dimensions": [{"Name": "FleetName", "Value": stack.outputs["FleetName"]}],
                "Timestamp": datetime.now(UTC) - timedelta(minutes=5),
                # Mean 20 s: far enough from the InitialTarget (sized for 10 s jobs) to update it.
                "Values": [10, 20, 30],
                "Counts": [20, 20, 20],
                "Unit": "Seconds",
            }
        ],
    )


def _seed_settled_fleet(stack: emulator.DeployedStack) -> None:
    """A young oldest message on a settled fleet: the tuner reads how long it has been settled
    (GetMetricData), and the guard leaves the formula alone. 10 of 10 a second ago: the newest
    minute's Maximum, whatever the publisher's test published on the same stack before (moto drops
    the query's microseconds, so a datum of this very second could fall after its EndTime)."""
    cloudwatch = aws(stack, "cloudwatch")
    queue = stack.outputs["QueueUrl"].rstrip("/").rsplit("/", 1)[1]
    now = datetime.now(UTC) - timedelta(seconds=1)
    fleet = [{"Name": "FleetName", "Value": stack.outputs["FleetName"]}]
    cloudwatch.put_metric_data(
        Namespace=stack.parameters["MetricNamespace"],
        MetricData=[
            {"MetricName": name, "Dimensions": fleet, "Timestamp": now, "Value": 10}
            for name in ("RunningCapacity", "DesiredCapacity")
        ],
    )
    age = {"Name": "QueueName", "Value": queue}
    cloudwatch.put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [age],
                "Timestamp": now,
                "Value": 30,
            }
        ],
    )


# ---------------------------------------------------------------- the checks


@pytest.mark.parametrize("platform", ["EC2", "ECS"])
def test_metric_publisher_role(platform, request, monkeypatch, recorder):
    stack = request.getfixturevalue(f"{platform.lower()}_stack")
    sqs = aws(stack, "sqs")
    sqs.send_message(QueueUrl=stack.outputs["QueueUrl"], MessageBody=json.dumps({"processing_seconds": 1}))
    visible = sqs.get_queue_attributes(
        QueueUrl=stack.outputs["QueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]

    result = _run_as_function(
        monkeypatch, recorder, stack, "MetricPublisherFunction", publisher_app.lambda_handler
    )

    assert result["samples"][0]["VisibleMessages"] == float(visible) >= 1
    calls = _calls(stack, recorder)
    services = (
        {"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribePolicies"}
        if platform == "EC2"
        else {"ecs:DescribeServices", "application-autoscaling:DescribeScalingPolicies"}
    )
    assert {call.action for call in calls} == {
        "sqs:GetQueueAttributes",
        "cloudwatch:PutMetricData",
    } | services
    assert "ScaleOutPressure" in result["samples"][0]  # the target in force was read
    _check_role(stack, "MetricPublisherFunction", calls)


@pytest.mark.parametrize("platform", ["EC2", "ECS"])
def test_target_tuner_role_including_a_real_policy_update(platform, request, monkeypatch, recorder):
    stack = request.getfixturevalue(f"{platform.lower()}_stack")
    _seed_durations(stack)
    _seed_settled_fleet(stack)

    result = _run_as_function(monkeypatch, recorder, stack, "TargetTunerFunction", tuner_app.lambda_handler)

    assert result["action"] == "update" and result["applied"] is True
    # The policy the template created now holds the tuned target.
    assert stack.scaling is not None
    name = stack.outputs["ScalingPolicyName"]
    if platform == "EC2":
        (policy,) = aws(stack, "autoscaling").describe_policies(
            AutoScalingGroupName=stack.outputs["FleetName"], PolicyNames=[name]
        )["ScalingPolicies"]
        assert policy["TargetTrackingConfiguration"]["TargetValue"] == result["target"]
    else:
        policies = aws(stack, "application-autoscaling").describe_scaling_policies(ServiceNamespace="ecs")
        (policy,) = [p for p in policies["ScalingPolicies"] if p["PolicyName"] == name]
        assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == result["target"]
    assert result["target"] != stack.scaling.tracking_policy.target_value

    calls = _calls(stack, recorder)
    assert Call("cloudwatch:GetMetricData", "*") in calls  # the settled time was read
    _check_role(stack, "TargetTunerFunction", calls)


@pytest.mark.parametrize("queue", ["standard", "fifo"])
def test_producer_role(queue, request, monkeypatch, recorder):
    stack = request.getfixturevalue("ec2_stack" if queue == "standard" else "fifo_stack")

    result = _run_as_function(monkeypatch, recorder, stack, "ProducerFunction", producer_app.lambda_handler)

    assert result["sent"] == 20
    attributes = aws(stack, "sqs").get_queue_attributes(
        QueueUrl=stack.outputs["QueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert int(attributes["ApproximateNumberOfMessages"]) >= 20
    calls = _calls(stack, recorder)
    assert {call.action for call in calls} == {"sqs:SendMessageBatch"}
    # SendMessageBatch is authorized as sqs:SendMessage.
    _check_role(stack, "ProducerFunction", {Call("sqs:SendMessage", c.resource) for c in calls})
