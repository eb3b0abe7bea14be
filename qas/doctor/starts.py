"""Workers that failed to start, and why: stopped ECS tasks, failed EC2 scaling activities.

On EC2 a failed ECR login or image pull happens in the instance's user data and systemd unit, so it
is only in the instance's journal (`journalctl -u queue-worker`), never in the worker log group.
On ECS it is in the stopped task's `stoppedReason` and container `reason` (CannotPullContainerError).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from qas.doctor.findings import Finding, ok, problem

# ECS stops tasks on scale-in too: those are not failures.
_NORMAL_STOP_CODES = frozenset({"ServiceSchedulerInitiated", "UserInitiated", "SpotInterruption"})


def check_failed_starts(session: Any, platform: str, fleet: str, cluster: str) -> list[Finding]:
    if platform == "ECS":
        return [_ecs(session.client("ecs"), cluster, fleet)]
    autoscaling = session.client("autoscaling")
    return [_ec2_activities(autoscaling, fleet)]


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


def _ec2_activities(autoscaling: Any, group: str) -> Finding:
    activities = autoscaling.describe_scaling_activities(AutoScalingGroupName=group, MaxRecords=50)[
        "Activities"
    ]
    failed = [a for a in activities if a.get("StatusCode") in ("Failed", "Cancelled")]
    return _failures(
        Counter(a.get("StatusMessage", a.get("Description", "?")) for a in failed),
        "no failed scaling activity",
        "instances failed to launch",
        "Spot capacity: add InstanceTypes or OnDemandPercentage; a quota: qas doctor preflight; an instance"
        " that launched but never consumes: journalctl -u queue-worker on it (Session Manager)",
    )
