"""Workers that failed to start, and why: stopped ECS tasks, failed EC2 scaling activities.

On EC2 a failed ECR login or image pull happens in the instance's user data and systemd unit, so it
is only in the instance's journal (`journalctl -u queue-worker`), never in the worker log group.
On ECS it is in the stopped task's `stoppedReason` and container `reason` (CannotPullContainerError).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from qas.doctor.findings import Finding, note, ok, problem
from queue_autoscaler.common.platform import Platform

# ECS stops tasks on scale-in too: those are not failures.
_NORMAL_STOP_CODES = frozenset({"ServiceSchedulerInitiated", "UserInitiated", "SpotInterruption"})
_LAUNCH = re.compile(r"^Launching a new EC2 instance: (i-[0-9a-f]+)")
DEFAULT_BOOT_TIMEOUT_S = 600  # the template's WorkerBootTimeoutSeconds


def stuck_after(boot_timeout_s: float) -> float:
    """Seconds after which an instance still held by its launch hook is stuck, not slow: half of
    WorkerBootTimeoutSeconds (at the timeout it is abandoned, and its replacement most likely waits the
    same way)."""
    return boot_timeout_s / 2


def check_failed_starts(
    session: Any,
    platform: str,
    fleet: str,
    cluster: str,
    *,
    now: datetime,
    boot_timeout_s: float = DEFAULT_BOOT_TIMEOUT_S,
) -> list[Finding]:
    return STARTS[Platform(platform)](session, fleet, cluster, now, boot_timeout_s)


def _ec2_starts(
    session: Any, fleet: str, cluster: str, now: datetime, boot_timeout_s: float
) -> list[Finding]:
    autoscaling = session.client("autoscaling")
    activities = autoscaling.describe_scaling_activities(AutoScalingGroupName=fleet, MaxRecords=50)[
        "Activities"
    ]
    return [
        _ec2_activities(activities),
        _ec2_booting(autoscaling, fleet, activities, boot_timeout_s, now),
    ]


def _ecs_starts(
    session: Any, fleet: str, cluster: str, now: datetime, boot_timeout_s: float
) -> list[Finding]:
    return [_ecs(session.client("ecs"), cluster, fleet)]


def _failures(reasons: Counter[str], none: str, what: str, fix: str) -> Finding:
    """The three most frequent reasons, or that there were none."""
    if not reasons:
        return ok("failed starts", none)
    summary = "; ".join(f"{count} x {reason}" for reason, count in reasons.most_common(3))
    return problem("failed starts", f"{what}: {summary}", fix)


def _ecs(ecs: Any, cluster: str, service: str) -> Finding:
    arns = ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="STOPPED")["taskArns"]
    reasons: Counter[str] = Counter()
    for start in range(0, len(arns), 100):
        for task in ecs.describe_tasks(cluster=cluster, tasks=arns[start : start + 100])["tasks"]:
            container_reasons = [c["reason"] for c in task.get("containers", []) if c.get("reason")]
            failed = task.get("stopCode") not in _NORMAL_STOP_CODES or container_reasons
            if failed:
                reasons[" / ".join([task.get("stoppedReason", "?"), *container_reasons])] += 1
    return _failures(
        reasons,
        "no task of the last hour stopped with an error",
        "tasks stopped with errors",
        "CannotPullContainerError: push the image or give the subnets a route to ECR and S3 (NAT or"
        " endpoints); ResourceInitializationError: the same for CloudWatch Logs; see docs/deploy.md",
    )


def _ec2_activities(activities: list[Any]) -> Finding:
    # An abandoned launch is a failed activity too: docs/aws-behaviour.md#asg-abandoned-launch-activity
    failed = [a for a in activities if a.get("StatusCode") in ("Failed", "Cancelled")]
    return _failures(
        Counter(a.get("StatusMessage", a.get("Description", "?")) for a in failed),
        "no failed scaling activity",
        "instances failed to launch",
        "Spot capacity: add InstanceTypes or OnDemandPercentage; a quota: qas doctor preflight; a launch"
        " lifecycle action abandoned (its worker never received from the queue): journalctl -u"
        " queue-worker on the next instance (Session Manager), or a longer WorkerBootTimeoutSeconds for a"
        " large image",
    )


def _ec2_booting(
    autoscaling: Any, group: str, activities: list[Any], boot_timeout_s: float, now: datetime
) -> Finding:
    """Instances the launch hook holds in Pending:Wait until their worker first receives; waiting
    longer than `stuck_after` is not a slow boot any more."""
    check = "booting instances"
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    waiting = [
        i["InstanceId"]
        for g in groups
        for i in g.get("Instances", [])
        if i["LifecycleState"] == "Pending:Wait"
    ]
    if not waiting:
        return ok(check, "no instance waits in Pending:Wait")
    launched = {
        match.group(1): activity["StartTime"]
        for activity in activities
        if (match := _LAUNCH.match(activity.get("Description", ""))) and "StartTime" in activity
    }
    ages = {instance: now - launched[instance] for instance in waiting if instance in launched}
    stuck = sorted(i for i, age in ages.items() if age > timedelta(seconds=stuck_after(boot_timeout_s)))
    if stuck:
        oldest = max(ages[i] for i in stuck)
        return problem(
            check,
            f"{len(stuck)} instance(s) in Pending:Wait for up to {oldest.total_seconds() / 60:.0f} min of"
            f" WorkerBootTimeoutSeconds={boot_timeout_s:g} s ({', '.join(stuck)}): the worker has not"
            " received from the queue; at the timeout the instance is abandoned and replaced",
            f"aws ssm start-session --target {stuck[0]}, then sudo journalctl -u queue-worker and"
            " /var/log/cloud-init-output.log (docs/deploy.md, troubleshooting)",
        )
    return note(check, f"{len(waiting)} instance(s) booting (Pending:Wait until the worker first receives)")


# Each platform's reading of its failed starts (tests/architecture/test_platform_seam.py: one per platform).
STARTS: dict[Platform, Callable[[Any, str, str, datetime, float], list[Finding]]] = {
    Platform.EC2: _ec2_starts,
    Platform.ECS: _ecs_starts,
}
