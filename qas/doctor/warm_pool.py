"""`qas doctor` and the EC2 warm pool (template `WarmPool`, `WarmPoolSize`; docs/deploy.md#warm-pool).

- preflight: the template's Rules that refuse a pool (reported here, naming the parameter), a pool the
  template would not create, `WarmPoolSize` above `MaxCapacity`, the hibernation prerequisites that can
  be read from the account (`DescribeInstanceTypes`), and what the stopped instances' volumes cost.
- stack: the deployed pool against its parameters, its size, and pool instances stuck in
  `Warmed:Pending:*` (their worker never completed the launch action).
- fleet: a pool on an existing group the stack attaches to (the stack does not manage it).

The decisions are pure functions of plain values; `read_pool` and the two session-taking checks only
read (`DescribeWarmPool`, `DescribeInstanceTypes`, `DescribeInstances`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from qas.doctor import config
from qas.doctor.findings import Finding, note, ok, problem
from qas.doctor.starts import stuck_after
from qas.plan.warm_pool import ebs_usd_per_month
from qas.sim.warm_pool import GP3_USD_PER_GB_MONTH, ROOT_VOLUME_GB, WarmPoolSettings

CHECK = "warm pool"
OFF = "Off"
HIBERNATED = "Hibernated"
# The template's Rules that refuse a pool, and the parameter each asks to change: this check reports
# them (preflight's parameter check leaves them out), so the finding names the parameter and its value.
RULES = {"WarmPoolNeedsEc2": "WorkerPlatform", "WarmPoolNeedsOnDemand": "OnDemandPercentage"}
# A Linux instance with more RAM cannot hibernate (docs/aws-behaviour.md#ec2-hibernation-instance).
MAX_HIBERNATION_RAM_GIB = 150
# The AMIs the template defaults to (AL2023's public SSM parameters); AL2023 supports hibernation from
# 2023.09.20 (x86_64) and 2024.07.01 (arm64), and these parameters name the latest release.
AL2023_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-"
WARMED_PENDING = "Warmed:Pending"  # Warmed:Pending, :Wait and :Proceed: on the way into the pool
LIMITATIONS = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html#warm-pools-limitations"


@dataclass(frozen=True)
class PoolInstance:
    instance_id: str
    state: str  # the warm pool lifecycle state, e.g. Warmed:Stopped, Warmed:Pending:Wait


@dataclass(frozen=True)
class Pool:
    """A group's warm pool as DescribeWarmPool gives it."""

    state: str  # PoolState: Stopped, Running, Hibernated
    min_size: int
    max_prepared: int | None  # MaxGroupPreparedCapacity; None (or -1): the group's MaxSize
    reuse_on_scale_in: bool
    status: str  # "" or PendingDelete
    instances: tuple[PoolInstance, ...] = ()


@dataclass(frozen=True)
class InstanceType:
    """What hibernation needs of an instance type (DescribeInstanceTypes)."""

    name: str
    hibernation_supported: bool
    memory_mib: int


def read_pool(autoscaling: Any, group: str) -> Pool | None:
    """The group's warm pool, or None when it has none."""
    kwargs: dict[str, Any] = {"AutoScalingGroupName": group}
    answer = autoscaling.describe_warm_pool(**kwargs)
    configuration = answer.get("WarmPoolConfiguration")
    if not configuration:
        return None
    instances = list(answer.get("Instances", []))
    while answer.get("NextToken"):
        answer = autoscaling.describe_warm_pool(**kwargs, NextToken=answer["NextToken"])
        instances += answer.get("Instances", [])
    prepared = configuration.get("MaxGroupPreparedCapacity")
    return Pool(
        state=configuration.get("PoolState", "Stopped"),
        min_size=int(configuration.get("MinSize", 0)),
        max_prepared=None if prepared is None or prepared < 0 else int(prepared),
        reuse_on_scale_in=bool((configuration.get("InstanceReusePolicy") or {}).get("ReuseOnScaleIn")),
        status=configuration.get("Status", ""),
        instances=tuple(PoolInstance(i["InstanceId"], i.get("LifecycleState", "")) for i in instances),
    )


# ---- preflight ----------------------------------------------------------------------------------


def not_created(values: Mapping[str, str]) -> str | None:
    """Why the template creates no pool although WarmPool is on (its condition `UseWarmPool`; the
    template's own Rules refuse another platform first); None when it creates one."""
    if values.get("ExistingAutoScalingGroupName"):
        return (
            "the stack is attached to ExistingAutoScalingGroupName: an attached group's pool is its"
            " owner's (qas doctor fleet reads it)"
        )
    if values.get("MaxCapacity") == "0":
        return "MaxCapacity=0 parks the fleet, and a parked fleet gets no pool"
    return None


def check_preflight(session: Any, template: Mapping[str, Any], values: Mapping[str, str]) -> list[Finding]:
    """Everything a deploy with `values` would break, or should know, about its warm pool."""
    mode = values.get("WarmPool", OFF)
    if mode == OFF:
        return []
    refused = [
        problem(
            CHECK,
            f"WarmPool={mode} with {RULES[rule]}={values.get(RULES[rule], '')}: the deploy would be"
            f" rejected (rule {rule})",
            description,
        )
        for rule, description in config.broken_rules(template, values)
        if rule in RULES
    ]
    if refused:
        return refused
    skipped = not_created(values)
    if skipped:
        return [note(CHECK, f"WarmPool={mode} does nothing: {skipped}", "WarmPool=Off (the default)")]
    try:
        size, capacity = int(values.get("WarmPoolSize", "1")), int(values.get("MaxCapacity", "0"))
    except ValueError:
        return []  # not a number: the parameter check names it
    if size < 1:
        return []  # below the template's MinValue: the parameter check names it
    findings = size_findings(size, capacity)
    if mode == HIBERNATED:
        types = [item.strip() for item in values.get("InstanceTypes", "").split(",") if item.strip()]
        findings += _hibernation(session.client("ec2"), types, values.get("WorkerAmiId", ""))
    if not findings:
        findings.append(ok(CHECK, f"WarmPool={mode} with {size} instance(s): what AWS requires of it holds"))
    findings.append(cost_finding(mode, size))
    return findings


def size_findings(size: int, max_capacity: int) -> list[Finding]:
    """A pool larger than the group can ever take holds instances that are paid for and never used
    (the template's pool holds WarmPoolSize whatever the group's size)."""
    if size <= max_capacity:
        return []
    return [
        note(
            CHECK,
            f"WarmPoolSize={size} is above MaxCapacity={max_capacity}: the group never takes more than"
            f" {max_capacity} from the pool, so {size - max_capacity} pool instance(s) are paid for"
            " and never used",
            f"WarmPoolSize={max_capacity} or less",
        )
    ]


def cost_finding(mode: str, size: int) -> Finding:
    """The pool's standing cost, as `qas plan --warm-pool` counts it (qas/plan/warm_pool.py)."""
    usd = ebs_usd_per_month(WarmPoolSettings(size=size, warm_boot_s=0.0))
    ram = " (the RAM image is saved on that volume)" if mode == HIBERNATED else ""
    return note(
        CHECK,
        f"{size} {mode.lower()} instance(s) cost their {ROOT_VOLUME_GB:g} GB gp3 root volume{ram}:"
        f" ${usd:,.2f} a month at ${GP3_USD_PER_GB_MONTH:g} per GB-month (us-east-1's gp3 price, an"
        " assumption: check your region's), plus one full boot of instance time each time the pool is"
        " used, On-Demand only",
        f"whether it pays on your load: qas plan ... --warm-pool {size} --warm-boot-seconds S",
    )


def _hibernation(ec2: Any, types: Sequence[str], ami: str) -> list[Finding]:
    try:
        described = ec2.describe_instance_types(InstanceTypes=list(types))["InstanceTypes"]
    except ClientError as err:
        return [
            problem(CHECK, f"InstanceTypes cannot be checked for hibernation: {err}", "fix InstanceTypes")
        ]
    found = [
        InstanceType(
            name=item["InstanceType"],
            hibernation_supported=bool(item.get("HibernationSupported")),
            memory_mib=int(item["MemoryInfo"]["SizeInMiB"]),
        )
        for item in described
    ]
    return hibernation_findings(found, ROOT_VOLUME_GB) + ami_findings(ami)


def hibernation_findings(types: Sequence[InstanceType], root_volume_gib: float) -> list[Finding]:
    """The hibernation prerequisites an instance type decides
    (docs/aws-behaviour.md#ec2-hibernation-instance): its support, at most 150 GB of RAM, and a root
    volume larger than the RAM it saves (plus the OS and the image, which are not known here)."""
    findings = []
    fix = "use instance types that support hibernation, or WarmPool=Stopped"
    for kind in sorted(types, key=lambda item: item.name):
        ram = kind.memory_mib / 1024
        if not kind.hibernation_supported:
            findings.append(problem(CHECK, f"{kind.name} does not support hibernation", fix))
        elif ram > MAX_HIBERNATION_RAM_GIB:
            findings.append(
                problem(
                    CHECK,
                    f"{kind.name} has {ram:g} GiB of RAM: no instance with more than"
                    f" {MAX_HIBERNATION_RAM_GIB} GB hibernates",
                    fix,
                )
            )
        elif ram >= root_volume_gib:
            findings.append(
                problem(
                    CHECK,
                    f"{kind.name} has {ram:g} GiB of RAM: hibernating saves it on the root volume, whose"
                    f" {root_volume_gib:g} GB cannot hold it with the OS and the image",
                    "smaller instance types, or WarmPool=Stopped (the root volume's size is the"
                    " template's: WorkerLaunchTemplate)",
                )
            )
    return findings


def ami_findings(ami: str) -> list[Finding]:
    if ami.startswith(AL2023_PARAMETER):
        return []
    return [
        note(
            CHECK,
            f"WorkerAmiId {ami} is not Amazon Linux 2023's public parameter: hibernation needs an AMI"
            " that supports it (AL2023 from 2023.09.20 on x86_64, from 2024.07.01 on arm64)",
            "check the AMI against the EC2 hibernation prerequisites, or WarmPool=Stopped",
        )
    ]


# ---- stack --------------------------------------------------------------------------------------


def check_stack(
    session: Any, parameters: Mapping[str, str], group: str, *, now: datetime, boot_timeout_s: float
) -> list[Finding]:
    """A deployed stack's pool against its parameters; nothing when WarmPool is Off."""
    mode = parameters.get("WarmPool", OFF)
    if mode == OFF:
        return []
    skipped = not_created(parameters)
    if skipped:
        return [note(CHECK, f"WarmPool={mode} does nothing: {skipped}")]
    pool = read_pool(session.client("autoscaling"), group)
    waiting = [i.instance_id for i in pool.instances if i.state.startswith(WARMED_PENDING)] if pool else []
    launched = _launch_times(session.client("ec2"), waiting)
    return stack_findings(
        pool,
        mode=mode,
        size=int(parameters.get("WarmPoolSize", "1")),
        group=group,
        launched=launched,
        now=now,
        boot_timeout_s=boot_timeout_s,
    )


def _launch_times(ec2: Any, instances: list[str]) -> dict[str, datetime]:
    if not instances:
        return {}
    pages = ec2.get_paginator("describe_instances").paginate(InstanceIds=instances)
    return {
        instance["InstanceId"]: instance["LaunchTime"]
        for page in pages
        for reservation in page["Reservations"]
        for instance in reservation["Instances"]
    }


def stack_findings(
    pool: Pool | None,
    *,
    mode: str,
    size: int,
    group: str,
    launched: Mapping[str, datetime],
    now: datetime,
    boot_timeout_s: float,
) -> list[Finding]:
    if pool is None:
        return [
            problem(
                CHECK,
                f"WarmPool={mode} but {group} has no warm pool: it failed to create, or was deleted",
                "aws cloudformation describe-stack-events (resource WorkerWarmPool), then sam deploy again",
            )
        ]
    put_back = "sam deploy again: the stack puts its pool back (changed outside the stack?)"
    findings = []
    if pool.status:
        findings.append(note(CHECK, f"{group}'s warm pool is {pool.status}", put_back))
    if pool.state != mode:
        findings.append(
            problem(
                CHECK, f"{group}'s warm pool keeps its instances {pool.state}, WarmPool is {mode}", put_back
            )
        )
    if (pool.min_size, pool.max_prepared) != (size, size):
        findings.append(
            problem(
                CHECK,
                f"{group}'s warm pool has MinSize {pool.min_size} and MaxGroupPreparedCapacity"
                f" {pool.max_prepared if pool.max_prepared is not None else 'unset'}, WarmPoolSize is {size}",
                put_back,
            )
        )
    findings += stuck_findings(pool.instances, launched, now, boot_timeout_s)
    states = ", ".join(
        f"{count} {state}" for state, count in sorted(Counter(i.state for i in pool.instances).items())
    )
    held = f"{len(pool.instances)} of WarmPoolSize={size} instance(s) in the pool" + (
        f" ({states})" if states else ""
    )
    if len(pool.instances) < size:
        findings.append(
            note(
                CHECK,
                f"{held}: a scale-out that finds it empty is a cold start; a used one is replaced by a"
                " full boot",
            )
        )
    elif not findings:
        findings.append(ok(CHECK, held))
    return findings


def stuck_findings(
    instances: Sequence[PoolInstance], launched: Mapping[str, datetime], now: datetime, boot_timeout_s: float
) -> list[Finding]:
    """Pool instances still on their way in after the share of WorkerBootTimeoutSeconds that
    `qas doctor stack` calls stuck for any booting instance: their worker has not completed the launch
    action, and at the timeout the instance is abandoned and replaced."""
    limit = timedelta(seconds=stuck_after(boot_timeout_s))
    ages = {
        i.instance_id: now - launched[i.instance_id]
        for i in instances
        if i.state.startswith(WARMED_PENDING) and i.instance_id in launched
    }
    stuck = sorted(instance for instance, age in ages.items() if age > limit)
    if not stuck:
        return []
    oldest = max(ages[instance] for instance in stuck)
    return [
        problem(
            CHECK,
            f"{len(stuck)} pool instance(s) in {WARMED_PENDING}:* for up to"
            f" {oldest.total_seconds() / 60:.0f} min"
            f" of WorkerBootTimeoutSeconds={boot_timeout_s:g} s ({', '.join(stuck)}): the worker has not"
            " completed the launch action, so the instance is never stopped into the pool",
            f"aws ssm start-session --target {stuck[0]}, then sudo journalctl -u queue-worker (the worker"
            " reads autoscaling/target-lifecycle-state from IMDSv2 and needs"
            " autoscaling:CompleteLifecycleAction)",
        )
    ]


# ---- fleet (attach mode) ------------------------------------------------------------------------


def attached_findings(group: str, pool: Pool | None, *, spot: bool, launch_hook: bool) -> list[Finding]:
    """A pool on an existing group: the stack neither creates nor changes it, and the group's worker
    meets its Warmed:* lifecycle states (docs/aws-behaviour.md#asg-warm-pool-lifecycle)."""
    if pool is None:
        return []
    findings = [
        note(
            CHECK,
            f"{group} has a warm pool ({pool.state}, MinSize {pool.min_size}, {len(pool.instances)}"
            " instance(s)) that the stack does not manage (WarmPool does nothing in attach mode): an"
            " instance launched into it waits in Warmed:Pending:Wait, and its worker must complete the"
            " launch action there without taking work, then consume once the group takes it",
            "run the project's worker (worker/warm_pool.py does this, with WORKER_LAUNCH_HOOK_NAME set"
            " to the group's launch hook), or remove the pool: aws autoscaling delete-warm-pool"
            f" --auto-scaling-group-name {group}",
        )
    ]
    if not launch_hook:
        findings.append(
            problem(
                CHECK,
                f"{group} has a warm pool but no launch lifecycle hook: an instance is stopped into the pool"
                " as soon as it launches, whether or not its user data has started the worker",
                f"aws autoscaling put-lifecycle-hook --auto-scaling-group-name {group} --lifecycle-hook-name"
                " ready-to-consume --lifecycle-transition autoscaling:EC2_INSTANCE_LAUNCHING"
                " --heartbeat-timeout <boot seconds> --default-result ABANDON, with a worker that"
                " completes it",
            )
        )
    if pool.reuse_on_scale_in:
        findings.append(
            note(
                CHECK,
                f"{group}'s warm pool reuses instances on scale-in: a drained instance goes back to the pool"
                " through Warmed:Pending:Wait and comes back with the image and user data it was launched"
                " with",
                f"aws autoscaling put-warm-pool --auto-scaling-group-name {group} --instance-reuse-policy"
                " ReuseOnScaleIn=false (the project's own pool never reuses)",
            )
        )
    if spot:
        findings.append(
            problem(
                CHECK,
                f"{group} has a warm pool and its mixed instances policy launches Spot Instances, which AWS"
                f" does not support in a warm pool's group ({LIMITATIONS})",
                f"aws autoscaling update-auto-scaling-group --auto-scaling-group-name {group}"
                " --mixed-instances-policy with OnDemandPercentageAboveBaseCapacity=100, or delete the pool",
            )
        )
    return findings
