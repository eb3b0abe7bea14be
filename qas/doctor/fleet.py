"""`qas doctor fleet`: what on an existing Auto Scaling group or ECS service would fight the stack's
scaling, or lose work, once the stack is attached to it (ExistingAutoScalingGroupName,
ExistingEcsClusterName + ExistingEcsServiceName).

Pure: a snapshot of the fleet (qas/doctor/fleet_reader.py reads it) and what the stack will do
(`Attach`) in, findings out. Every finding names the fix; a fleet with nothing to report gives none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qas.doctor.findings import Finding, note, problem
from qas.doctor.warm_pool import Pool, attached_findings

CHECK = "fleet"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
# ExpiresInMinutes of ECS task protection: 1..2,880, 120 when not given
# (docs/aws-behaviour.md#ecs-task-protection).
MAX_PROTECTION_MINUTES = 2_880
DEFAULT_PROTECTION_MINUTES = 120
# The project's worker sets these on its container and renews its protection before it expires.
PROJECT_WORKER_VARIABLES = frozenset({"WORKER_PLATFORM", "FLEET_NAME"})


@dataclass(frozen=True)
class Attach:
    """What the stack will do to the fleet: the parameters the findings compare against."""

    max_capacity: int
    boot_s: float  # launch to consuming (WorkerBootTimeoutSeconds unless --boot-seconds)
    longest_job_s: float | None = None  # None: the protection limit is not checked
    stack_name: str = ""  # policies named "<stack>-..." are the stack's own, not rivals


@dataclass(frozen=True)
class Policy:
    name: str
    kind: str  # TargetTrackingScaling, StepScaling, SimpleScaling, PredictiveScaling


@dataclass(frozen=True)
class Scheduled:
    name: str
    when: str  # recurrence, schedule or start time, as AWS gives it
    min_size: int | None = None
    max_size: int | None = None


@dataclass(frozen=True)
class ManagedBy:
    """The CloudFormation stack that created the group or service, and its count in that template."""

    stack: str
    logical_id: str
    count: Any = None  # DesiredCount / DesiredCapacity as the template has it; None when absent


@dataclass(frozen=True)
class AsgSnapshot:
    name: str
    min_size: int
    max_size: int
    health_check_type: str
    grace_s: int
    capacity_rebalance: bool
    new_instances_protected: bool
    protected_instances: int
    hooks: tuple[str, ...]  # lifecycle transitions of the group's hooks
    policies: tuple[Policy, ...] = ()
    scheduled: tuple[Scheduled, ...] = ()
    managed_by: ManagedBy | None = None
    warm_pool: Pool | None = None
    spot: bool = False  # its mixed instances policy launches Spot above the On-Demand base


@dataclass(frozen=True)
class EcsSnapshot:
    cluster: str
    service: str
    deployment_controller: str  # ECS, CODE_DEPLOY, EXTERNAL
    circuit_breaker: bool
    environment: Mapping[str, str]  # the containers' environment in the service's task definition
    running_tasks: int
    protected_tasks: int
    target: tuple[int, int] | None = None  # Application Auto Scaling (min, max), None if not registered
    policies: tuple[Policy, ...] = ()
    scheduled: tuple[Scheduled, ...] = ()
    managed_by: ManagedBy | None = None


def _rivals(policies: tuple[Policy, ...], attach: Attach) -> list[Policy]:
    own = f"{attach.stack_name}-" if attach.stack_name else None
    return [policy for policy in policies if own is None or not policy.name.startswith(own)]


def check_asg(group: AsgSnapshot, attach: Attach) -> list[Finding]:
    """Every risk of attaching the stack to ``group``; [] when there is none."""
    name = group.name
    findings = [
        problem(
            CHECK,
            f"scaling policy {policy.name} ({policy.kind}) also scales {name}: when policies fire together"
            " the one asking for the most capacity wins, and its scale-in fights the stack's",
            f"after the cut-over: aws autoscaling delete-policy --auto-scaling-group-name {name}"
            f" --policy-name {policy.name}",
        )
        for policy in _rivals(group.policies, attach)
    ]
    findings += [
        _scheduled(
            action,
            f"aws autoscaling delete-scheduled-action --auto-scaling-group-name {name}"
            f" --scheduled-action-name {action.name}",
        )
        for action in group.scheduled
    ]
    findings += _size(group, attach.max_capacity)
    findings += _count_reset(group.managed_by, "DesiredCapacity")
    drains = TERMINATING in group.hooks
    if not drains:
        findings.append(
            problem(
                CHECK,
                f"{name} has no termination lifecycle hook: a scale-in, a Spot interruption or an instance"
                " refresh terminates an instance with its running jobs",
                f"aws autoscaling put-lifecycle-hook --auto-scaling-group-name {name} --lifecycle-hook-name"
                f" drain-before-terminate --lifecycle-transition {TERMINATING} --heartbeat-timeout 150"
                " --default-result CONTINUE, with a worker that completes it when drained (the project's,"
                " with WORKER_LIFECYCLE_HOOK_NAME=drain-before-terminate); without one every termination"
                " waits out the timeout",
            )
        )
    if not group.new_instances_protected and not group.protected_instances:
        findings.append(
            note(
                CHECK,
                f"no instance of {name} is protected from scale-in: a scale-in picks its victims by the"
                " termination policy, busy or not",
                "run the project's worker (it protects an instance while it has jobs; needs"
                " autoscaling:SetInstanceProtection), or protect busy instances yourself",
            )
        )
    if group.grace_s < attach.boot_s and LAUNCHING not in group.hooks:
        late = (
            problem if group.health_check_type != "EC2" else note
        )  # EC2 status checks pass while the application still boots; ELB and custom checks do not
        findings.append(
            late(
                CHECK,
                f"{name}'s health check grace period ({group.grace_s} s) is shorter than the boot"
                f" ({attach.boot_s:g} s) and no launch hook holds new instances: the"
                f" {group.health_check_type} health check can replace an instance that is still booting",
                f"aws autoscaling update-auto-scaling-group --auto-scaling-group-name {name}"
                f" --health-check-grace-period {math.ceil(attach.boot_s)}, or add a launch lifecycle hook",
            )
        )
    findings += attached_findings(
        name, group.warm_pool, spot=group.spot, launch_hook=LAUNCHING in group.hooks
    )
    if group.capacity_rebalance and not drains:
        findings.append(
            problem(
                CHECK,
                f"capacity rebalancing is on for {name} without a termination hook: an at-risk Spot instance"
                " is terminated as soon as its replacement passes its health checks, with its jobs",
                "add the termination hook above, or turn rebalancing off: aws autoscaling"
                f" update-auto-scaling-group --auto-scaling-group-name {name} --no-capacity-rebalance",
            )
        )
    return findings


def check_ecs(service: EcsSnapshot, attach: Attach) -> list[Finding]:
    """Every risk of attaching the stack to ``service``; [] when there is none."""
    resource = f"service/{service.cluster}/{service.service}"
    aas = f"--service-namespace ecs --resource-id {resource} --scalable-dimension ecs:service:DesiredCount"
    findings = [
        problem(
            CHECK,
            f"Application Auto Scaling policy {policy.name} ({policy.kind}) also scales {resource}: when"
            " policies fire together the one asking for the most tasks wins, and its scale-in fights the"
            " stack's",
            f"after the cut-over: aws application-autoscaling delete-scaling-policy {aas} --policy-name"
            f" {policy.name}",
        )
        for policy in _rivals(service.policies, attach)
    ]
    findings += [
        _scheduled(
            action,
            f"aws application-autoscaling delete-scheduled-action {aas} --scheduled-action-name"
            f" {action.name}",
        )
        for action in service.scheduled
    ]
    if service.target is not None:
        low, high = service.target
        if (low, high) != (0, attach.max_capacity):
            findings.append(
                note(
                    CHECK,
                    f"{resource} is registered with Application Auto Scaling between {low} and {high}: the"
                    f" stack registers it again between 0 and MaxCapacity={attach.max_capacity}, replacing"
                    " that range, and deleting the stack deregisters the service (its other policies go too)",
                    "expected when another autoscaler hands over: the deploy takes the target over, then"
                    " delete that autoscaler's policies (docs/migrate-from-copilot.md); MaxCapacity"
                    f" {high} keeps its maximum",
                )
            )
    findings += _count_reset(service.managed_by, "DesiredCount")
    if service.deployment_controller == "ECS" and not service.circuit_breaker:
        findings.append(
            problem(
                CHECK,
                f"{resource} has the deployment circuit breaker off: a deployment whose tasks cannot start"
                " retries for hours, and Application Auto Scaling does not scale in during a deployment",
                f"aws ecs update-service --cluster {service.cluster} --service {service.service}"
                " --deployment-configuration 'deploymentCircuitBreaker={enable=true,rollback=true}'",
            )
        )
    findings += _protection(service, attach)
    return findings


def _scheduled(action: Scheduled, delete: str) -> Finding:
    bounds = ", ".join(
        f"{label} {value}"
        for label, value in (("min", action.min_size), ("max", action.max_size))
        if value is not None
    )
    return problem(
        CHECK,
        f"scheduled action {action.name} ({action.when}) sets {bounds or 'the capacity'}: at its time it"
        " moves the fleet outside what the stack decides",
        f"after the cut-over: {delete}",
    )


def _size(group: AsgSnapshot, cap: int) -> list[Finding]:
    """MinSize and MaxSize stay the user's in attach mode; every policy's result is clamped to them
    (docs/aws-behaviour.md#step-min-max-clamp)."""
    name, low, high = group.name, group.min_size, group.max_size
    update = f"aws autoscaling update-auto-scaling-group --auto-scaling-group-name {name}"
    findings = []
    if high < cap:
        findings.append(
            problem(
                CHECK,
                f"{name}'s MaxSize ({high}) is below MaxCapacity ({cap}): every scale-out stops at {high}",
                f"{update} --max-size {cap}, or MaxCapacity={high}",
            )
        )
    elif high > cap:
        findings.append(
            note(
                CHECK,
                f"{name}'s MaxSize ({high}) is above MaxCapacity ({cap}): the stack's policies can take the"
                f" group up to {high}",
                f"{update} --max-size {cap}",
            )
        )
    if low > 0:
        findings.append(
            note(
                CHECK,
                f"{name}'s MinSize is {low}: the group never scales below {low}, so never to zero",
                f"{update} --min-size 0 (KeepWarm=true keeps one instance while work comes)",
            )
        )
    return findings


def _count_reset(managed_by: ManagedBy | None, prop: str) -> list[Finding]:
    """CloudFormation sends a count present in the template on every update
    (docs/aws-behaviour.md#cfn-desired-count)."""
    if managed_by is None or managed_by.count is None:
        return []
    where = f"{managed_by.logical_id} in stack {managed_by.stack}"
    if isinstance(managed_by.count, int | float | str) and str(managed_by.count).isdigit():
        return [
            problem(
                CHECK,
                f"{where} sets {prop}: {managed_by.count}: every update of that stack resets the fleet to"
                f" {managed_by.count}, whatever the stack's scaling decided",
                f"remove {prop} from {managed_by.logical_id}'s template, or stop updating {managed_by.stack}",
            )
        ]
    return [
        note(
            CHECK,
            f"{where} computes {prop} ({_short(managed_by.count)}): every update of that stack sends it"
            " again; right only if it reads the running count at that moment",
            f"update {managed_by.stack} only while the fleet is quiet, or retire it after the cut-over",
        )
    ]


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _protection(service: EcsSnapshot, attach: Attach) -> list[Finding]:
    """The project's worker protects a task while it has jobs and renews the protection at half its
    expiry; another worker is judged by what its tasks show."""
    if set(service.environment) >= PROJECT_WORKER_VARIABLES:
        return []
    if not service.protected_tasks:
        return [
            problem(
                CHECK,
                f"no task of {service.service} is protected from scale-in and its worker is not the"
                " project's: a scale-in or a deployment stops a busy task (SIGTERM, then SIGKILL after"
                " stopTimeout), its running jobs with it",
                "run the project's worker image (it protects a task while it has jobs), or have the worker"
                " PUT $ECS_AGENT_URI/task-protection/v1/state while it works",
            )
        ]
    if attach.longest_job_s is None:
        return []
    longest = attach.longest_job_s / 60
    fix = (
        "renew the protection while a job runs (the project's worker does, at half the expiry), or set"
        f" ExpiresInMinutes to at least {min(MAX_PROTECTION_MINUTES, math.ceil(longest))}"
    )
    if longest > MAX_PROTECTION_MINUTES:
        return [
            problem(
                CHECK,
                f"the longest job takes {longest:.0f} min and no task protection lasts more than"
                f" {MAX_PROTECTION_MINUTES} min (48 h): unless the worker renews it, a scale-in stops the"
                " task mid-job",
                fix,
            )
        ]
    if longest > DEFAULT_PROTECTION_MINUTES:
        return [
            note(
                CHECK,
                f"the longest job takes {longest:.0f} min; a protection set without ExpiresInMinutes lasts"
                f" {DEFAULT_PROTECTION_MINUTES} min: unless the worker asks for longer or renews it, a"
                " scale-in stops the task mid-job",
                fix,
            )
        ]
    return []
