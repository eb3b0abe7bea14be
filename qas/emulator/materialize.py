"""What moto's CloudFormation accepts but does not create (scaling target and policies, alarms, queue
and topic policies), created through the service APIs with the template's properties resolved."""

from __future__ import annotations

import json
from typing import Any, cast

from botocore.model import Shape, StructureShape

from qas.emulator.account import JsonDict
from qas.emulator.intrinsics import Resolver
from qas.emulator.record import (
    AlarmDefinition,
    DeployedStack,
    ScalableTargetDefinition,
    ScalingResources,
    StepPolicyDefinition,
    TrackingPolicyDefinition,
    alarm_definition,
    step_definition,
    tracking_definition,
)
from qas.emulator.server import client

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


def skipped_name(stack_name: str, logical_id: str) -> str:
    """The name CloudFormation would generate for an unnamed policy (minus its random suffix)."""
    return f"{stack_name}-{logical_id}"


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
            return skipped_name(self._stack.stack_name, logical_id)
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
        props.setdefault("PolicyName", skipped_name(self._stack.stack_name, logical_id))
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
            self._tracking = tracking_definition(logical_id, name, arn, cast(JsonDict, tracking))
        else:
            self._step_policies[logical_id] = step_definition(logical_id, name, arn, cast(JsonDict, step))

    def _alarm(self, logical_id: str, props: JsonDict) -> str:
        api = client(self._endpoint, "cloudwatch")
        props.setdefault("AlarmName", skipped_name(self._stack.stack_name, logical_id))
        request = _coerce(api, "PutMetricAlarm", props)
        api.put_metric_alarm(**request)
        self._alarms[logical_id] = alarm_definition(logical_id, request)
        return str(request["AlarmName"])

    def _queue_policy(self, logical_id: str, props: JsonDict) -> str:
        api = client(self._endpoint, "sqs")
        document = props["PolicyDocument"]
        for queue_url in props["Queues"]:
            api.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(document)})
            self._queue_policies[str(queue_url)] = document
        return skipped_name(self._stack.stack_name, logical_id)

    def _topic_policy(self, logical_id: str, props: JsonDict) -> str:
        api = client(self._endpoint, "sns")
        for topic_arn in props["Topics"]:
            api.set_topic_attributes(
                TopicArn=topic_arn, AttributeName="Policy", AttributeValue=json.dumps(props["PolicyDocument"])
            )
        return skipped_name(self._stack.stack_name, logical_id)


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
