"""Reads an existing Auto Scaling group or ECS service into the snapshot qas/doctor/fleet.py decides on
(read-only: Describe*, List*, GetTemplate and GetTaskProtection calls)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError
from samtranslator.yaml_helper import yaml_parse

from qas.doctor.fleet import AsgSnapshot, EcsSnapshot, ManagedBy, Policy, Scheduled
from qas.doctor.warm_pool import read_pool

# CloudFormation tags every resource it creates that takes tags with these
# (docs/aws-behaviour.md#cfn-stack-tags).
STACK_TAG = "aws:cloudformation:stack-name"
LOGICAL_ID_TAG = "aws:cloudformation:logical-id"
_TASK_BATCH = 100  # DescribeTasks takes up to 100 tasks
_PROTECTION_BATCH = 10  # GetTaskProtection takes up to 10 tasks


def read_asg(session: Any, name: str) -> AsgSnapshot:
    """Raises LookupError when there is no such group."""
    autoscaling = session.client("autoscaling")
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    if not groups:
        raise LookupError(f"--asg {name}: no such Auto Scaling group in {session.region_name}")
    group = groups[0]
    hooks = autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=name)["LifecycleHooks"]
    policies = [
        Policy(item["PolicyName"], item.get("PolicyType", "SimpleScaling"))
        for page in autoscaling.get_paginator("describe_policies").paginate(AutoScalingGroupName=name)
        for item in page["ScalingPolicies"]
    ]
    scheduled = [
        Scheduled(
            item["ScheduledActionName"],
            item.get("Recurrence") or str(item.get("StartTime", "")),
            item.get("MinSize"),
            item.get("MaxSize"),
        )
        for page in autoscaling.get_paginator("describe_scheduled_actions").paginate(
            AutoScalingGroupName=name
        )
        for item in page["ScheduledUpdateGroupActions"]
    ]
    tags = {tag["Key"]: tag["Value"] for tag in group.get("Tags", [])}
    return AsgSnapshot(
        name=name,
        min_size=int(group["MinSize"]),
        max_size=int(group["MaxSize"]),
        health_check_type=group.get("HealthCheckType", "EC2"),
        grace_s=int(group.get("HealthCheckGracePeriod", 0)),
        capacity_rebalance=bool(group.get("CapacityRebalance", False)),
        new_instances_protected=bool(group.get("NewInstancesProtectedFromScaleIn", False)),
        protected_instances=sum(1 for i in group.get("Instances", []) if i.get("ProtectedFromScaleIn")),
        hooks=tuple(hook["LifecycleTransition"] for hook in hooks),
        policies=tuple(policies),
        scheduled=tuple(scheduled),
        managed_by=_managed_by(session, tags, "DesiredCapacity"),
        warm_pool=read_pool(autoscaling, name),
        spot=launches_spot(group),
    )


def launches_spot(group: Mapping[str, Any]) -> bool:
    """A mixed instances policy with less than 100% On-Demand above its base (AWS's default: 100)."""
    policy = group.get("MixedInstancesPolicy")
    if not policy:
        return False
    distribution = policy.get("InstancesDistribution") or {}
    return int(distribution.get("OnDemandPercentageAboveBaseCapacity", 100)) < 100


def read_ecs(session: Any, cluster: str, service_name: str) -> EcsSnapshot:
    """Raises LookupError when there is no such (active) service."""
    ecs = session.client("ecs")
    described = ecs.describe_services(cluster=cluster, services=[service_name], include=["TAGS"])
    services = [s for s in described["services"] if s.get("status") != "INACTIVE"]
    if not services:
        raise LookupError(f"--cluster {cluster} --service {service_name}: no such active service")
    service = services[0]
    configuration = service.get("deploymentConfiguration") or {}
    breaker = configuration.get("deploymentCircuitBreaker") or {}
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    environment = {
        item["name"]: item.get("value", "")
        for container in definition.get("containerDefinitions", [])
        for item in container.get("environment", [])
    }
    tasks = [
        arn
        for page in ecs.get_paginator("list_tasks").paginate(
            cluster=cluster, serviceName=service_name, desiredStatus="RUNNING"
        )
        for arn in page["taskArns"]
    ]
    resource = f"service/{cluster}/{service_name}"
    aas = session.client("application-autoscaling")
    targets = aas.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[resource], ScalableDimension="ecs:service:DesiredCount"
    )["ScalableTargets"]
    policies = [
        Policy(item["PolicyName"], item.get("PolicyType", ""))
        for page in aas.get_paginator("describe_scaling_policies").paginate(
            ServiceNamespace="ecs", ResourceId=resource, ScalableDimension="ecs:service:DesiredCount"
        )
        for item in page["ScalingPolicies"]
    ]
    scheduled = [
        Scheduled(
            item["ScheduledActionName"],
            item.get("Schedule", ""),
            (item.get("ScalableTargetAction") or {}).get("MinCapacity"),
            (item.get("ScalableTargetAction") or {}).get("MaxCapacity"),
        )
        for page in aas.get_paginator("describe_scheduled_actions").paginate(
            ServiceNamespace="ecs", ResourceId=resource, ScalableDimension="ecs:service:DesiredCount"
        )
        for item in page["ScheduledActions"]
    ]
    tags = {tag["key"]: tag["value"] for tag in service.get("tags", [])}
    return EcsSnapshot(
        cluster=cluster,
        service=service_name,
        deployment_controller=(service.get("deploymentController") or {}).get("type", "ECS"),
        circuit_breaker=bool(breaker.get("enable", False)),
        environment=environment,
        running_tasks=len(tasks),
        protected_tasks=_protected(ecs, cluster, tasks),
        target=(int(targets[0]["MinCapacity"]), int(targets[0]["MaxCapacity"])) if targets else None,
        policies=tuple(policies),
        scheduled=tuple(scheduled),
        managed_by=_managed_by(session, tags, "DesiredCount"),
    )


def _protected(ecs: Any, cluster: str, tasks: list[str]) -> int:
    count = 0
    for start in range(0, len(tasks), _PROTECTION_BATCH):
        answer = ecs.get_task_protection(cluster=cluster, tasks=tasks[start : start + _PROTECTION_BATCH])
        count += sum(1 for task in answer.get("protectedTasks", []) if task.get("protectionEnabled"))
    return count


def _managed_by(session: Any, tags: Mapping[str, str], prop: str) -> ManagedBy | None:
    """The stack that created the resource, and ``prop`` as that stack's template sets it."""
    stack, logical_id = tags.get(STACK_TAG), tags.get(LOGICAL_ID_TAG)
    if not stack or not logical_id:
        return None
    cfn = session.client("cloudformation")
    try:
        body = cfn.get_template(StackName=stack, TemplateStage="Processed")["TemplateBody"]
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError:  # deleted since, or not readable: the count cannot be checked
        return ManagedBy(stack, logical_id, None)
    template = yaml_parse(body) if isinstance(body, str) else body
    resource = (template.get("Resources") or {}).get(logical_id) or {}
    count = (resource.get("Properties") or {}).get(prop)
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])}
    if isinstance(count, dict) and set(count) == {"Ref"} and count["Ref"] in parameters:
        count = parameters[count["Ref"]]  # a fixed count given as a parameter
    return ManagedBy(stack, logical_id, count)
