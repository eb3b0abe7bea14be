"""Rollouts that do not finish: an ECS deployment held by protected old tasks, an EC2 refresh that
failed, waits on protected instances, or left instances on an old launch template version.

ECS never stops a task whose scale-in protection is on, for a deployment either
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection.html); this
version's workers retire by themselves (worker/rollout_watch.py), a worker image from before that
does not. An instance refresh with ScaleInProtectedInstances=Wait waits an hour for a protected
instance, then fails (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from qas.doctor.findings import Finding, note, ok, problem
from queue_autoscaler.adapters.errors import ResourceNotFoundError
from queue_autoscaler.adapters.rollout import AsgRollout
from queue_autoscaler.common.platform import Platform
from queue_autoscaler.scaling.rollout import outdated

# A rollout running this long is reported as stuck rather than as in progress.
STUCK_AFTER = timedelta(minutes=30)
_REFRESH_ENDED_BADLY = ("Failed", "Cancelled", "RollbackFailed")
_TASK_PROTECTION_BATCH = 10  # GetTaskProtection takes up to 10 tasks


def check_rollout(
    session: Any, *, platform: str, stack_name: str, fleet: str, cluster: str, now: datetime
) -> Finding:
    return ROLLOUTS[Platform(platform)](session, stack_name, fleet, cluster, now)


def _ec2(session: Any, stack_name: str, fleet: str, cluster: str, now: datetime) -> Finding:
    return ec2_rollout(session.client("autoscaling"), stack_name, fleet)


def _ecs(session: Any, stack_name: str, fleet: str, cluster: str, now: datetime) -> Finding:
    return ecs_deployment(session.client("ecs"), cluster, fleet, now)


def _minutes(since: datetime, now: datetime) -> int:
    return int((now - since).total_seconds() // 60)


def ecs_deployment(ecs: Any, cluster: str, service: str, now: datetime) -> Finding:
    described = ecs.describe_services(cluster=cluster, services=[service])["services"]
    if not described:
        return problem("rollout", f"service {service} not found in cluster {cluster}", "redeploy the stack")
    deployments = described[0].get("deployments", [])
    # PRIMARY is the newest deployment: docs/aws-behaviour.md#ecs-deployment-status
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is None:
        return note("rollout", "the service reports no deployment")
    task_definition = primary["taskDefinition"]
    if primary.get("rolloutState") == "FAILED":
        return problem(
            "rollout",
            f"the deployment of {task_definition} failed: {primary.get('rolloutStateReason', '')}".strip(),
            "the stopped tasks say why (see failed starts); the circuit breaker rolls back to the last"
            " completed deployment",
        )
    if len(deployments) == 1:
        return ok("rollout", f"every task runs {task_definition}")
    old = _old_tasks(ecs, cluster, service, task_definition)
    protected = _protected(ecs, cluster, old)
    running_for = _minutes(primary.get("createdAt", now), now)
    what = (
        f"the deployment of {task_definition} has run for {running_for} min; {len(old)} task(s) of an"
        f" older task definition still run, {len(protected)} of them protected from scale-in"
    )
    if not protected or now - primary.get("createdAt", now) < STUCK_AFTER:
        return note("rollout", what)
    ids = " ".join(arn.rsplit("/", 1)[-1] for arn, _ in protected[:_TASK_PROTECTION_BATCH])
    until = max(expiry for _, expiry in protected)
    return problem(
        "rollout",
        f"{what} (until {until}): the deployment waits for them",
        "workers of this version retire when a newer task definition runs (they need"
        " ECS_CONTAINER_METADATA_URI_V4 and ecs:DescribeServices); older workers do not. To let the"
        " deployment go on, drop their protection (running jobs then drain on SIGTERM):"
        f" aws ecs update-task-protection --cluster {cluster} --no-protection-enabled --tasks {ids}",
    )


def _old_tasks(ecs: Any, cluster: str, service: str, task_definition: str) -> list[str]:
    arns = [
        arn
        for page in ecs.get_paginator("list_tasks").paginate(
            cluster=cluster, serviceName=service, desiredStatus="RUNNING"
        )
        for arn in page["taskArns"]
    ]
    old: list[str] = []
    for start in range(0, len(arns), 100):
        for task in ecs.describe_tasks(cluster=cluster, tasks=arns[start : start + 100])["tasks"]:
            if task.get("taskDefinitionArn") != task_definition:
                old.append(task["taskArn"])
    return old


def _protected(ecs: Any, cluster: str, tasks: list[str]) -> list[tuple[str, str]]:
    """(task ARN, expiry) of the tasks whose scale-in protection is on."""
    protected: list[tuple[str, str]] = []
    for start in range(0, len(tasks), _TASK_PROTECTION_BATCH):
        answer = ecs.get_task_protection(cluster=cluster, tasks=tasks[start : start + _TASK_PROTECTION_BATCH])
        for task in answer.get("protectedTasks", []):
            if task.get("protectionEnabled"):
                expiry = task.get("expirationDate")
                protected.append((task["taskArn"], expiry.isoformat(timespec="minutes") if expiry else "?"))
    return protected


def ec2_rollout(autoscaling: Any, stack_name: str, group: str) -> Finding:
    rerun = f"aws lambda invoke --function-name {stack_name}-fleet-rollout /dev/stdout"
    try:
        state = AsgRollout(group, client=autoscaling).state()
    except ResourceNotFoundError as error:
        return problem("rollout", str(error), "redeploy the stack")
    version = state.version
    stale = set(outdated(version, state.instances))
    refreshes = autoscaling.describe_instance_refreshes(AutoScalingGroupName=group, MaxRecords=1)
    latest = (refreshes.get("InstanceRefreshes") or [None])[0]
    status = latest.get("Status") if latest else None
    if status in ("Pending", "InProgress", "Cancelling", "Baking"):
        waiting = (latest.get("Preferences") or {}).get("ScaleInProtectedInstances", "Wait") == "Wait"
        protected = [i.instance_id for i in state.instances if i.instance_id in stale and i.protected]
        if waiting and protected:
            return problem(
                "rollout",
                f"instance refresh {latest['InstanceRefreshId']} waits on {len(protected)} busy (scale-in"
                " protected) instance(s) on an old version: with ScaleInProtectedInstances=Wait it fails"
                " after an hour",
                f"cancel it (aws autoscaling cancel-instance-refresh --auto-scaling-group-name {group}); the"
                f" fleet-rollout function's refresh replaces busy workers through the drain hook: {rerun}",
            )
        done = latest.get("PercentageComplete", 0)
        return note("rollout", f"instance refresh {latest['InstanceRefreshId']} is {status} ({done}% done)")
    if status in _REFRESH_ENDED_BADLY:
        return problem(
            "rollout",
            f"the last instance refresh is {status}: {latest.get('StatusReason', '')}".strip(),
            f"after the cause is fixed, start it again (only outdated instances are replaced): {rerun}",
        )
    if stale:
        return problem(
            "rollout",
            f"{len(stale)} instance(s) run an older launch template version than the group's ({version})"
            " and no instance refresh runs",
            f"start one: {rerun}",
        )
    return ok(
        "rollout", f"every instance runs launch template version {version}; last refresh: {status or 'none'}"
    )


# Each platform's rollout check (tests/architecture/test_platform_seam.py: one per platform).
ROLLOUTS: dict[Platform, Callable[[Any, str, str, str, datetime], Finding]] = {
    Platform.EC2: _ec2,
    Platform.ECS: _ecs,
}
