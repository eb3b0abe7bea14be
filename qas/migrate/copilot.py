"""A Copilot Worker Service manifest as this template's parameters (pure: a parsed manifest in, a
`Conversion` out).

The fields are those of the manifest reference
(https://aws.github.io/copilot-cli/docs/manifest/worker-service/). What has no parameter here is
named in `Conversion.not_carried` with the reason, never dropped in silence; a field that cannot be
read raises ManifestError naming it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

WORKER_SERVICE = "Worker Service"
MAX_CAPACITY = 1000  # template MaxCapacity MaxValue
TASK_CPU = ("256", "512", "1024", "2048", "4096")  # template TaskCpu AllowedValues
VISIBILITY_RANGE = (10, 43_200)  # template WorkerVisibilityTimeout
RECEIVE_RANGE = (1, 1000)  # template MaxReceiveCount
STACK_RETENTION_S = 345_600  # the stack's queue keeps messages 4 days (template WorkQueue)
DEFAULT_MAX_RECEIVE = 5  # template MaxReceiveCount default
NO_QUEUE_DELAY = (
    "no count.queue_delay: Copilot did not scale on the queue; set LatencySloSeconds and InitialTarget for"
    " your jobs (`qas plan` computes them)"
)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
_ARCHITECTURES = {"x86_64": "X86_64", "amd64": "X86_64", "arm64": "ARM64", "arm": "ARM64"}
# Top-level fields with no parameter here, and what happens to them.
_KEPT_ON_THE_SERVICE = "in attach mode Copilot's task definition keeps it; a fleet the stack creates runs"
_NOT_CARRIED = {
    "exec": "ECS Exec: the stack's service does not turn it on",
    "variables": f"{_KEPT_ON_THE_SERVICE} the project's worker image without it",
    "env_file": f"{_KEPT_ON_THE_SERVICE} the project's worker image without it",
    "secrets": f"{_KEPT_ON_THE_SERVICE} the project's worker image without it",
    "command": f"{_KEPT_ON_THE_SERVICE} the project's worker image, whose command is its own",
    "entrypoint": f"{_KEPT_ON_THE_SERVICE} the project's worker image, whose entry point is its own",
    "storage": f"{_KEPT_ON_THE_SERVICE} tasks without volumes",
    "sidecars": f"{_KEPT_ON_THE_SERVICE} one container",
    "logging": f"{_KEPT_ON_THE_SERVICE} tasks that log to CloudWatch Logs (LogRetentionDays)",
    "observability": f"{_KEPT_ON_THE_SERVICE} tasks without a tracing sidecar",
    "taskdef_overrides": f"{_KEPT_ON_THE_SERVICE} the template's task definition",
    "network": "SubnetIds and SecurityGroupIds are account-specific: `sam deploy --guided` asks for them",
    "publish": "the topics this service publishes stay Copilot's (the stack creates no SNS topic)",
    "deployment": "the stack's service deploys with its own settings (circuit breaker with rollback)",
    "tags": "the stack tags what it creates with the stack's tags",
}


class ManifestError(ValueError):
    """A field of the manifest that cannot be read: the message starts with its path."""


@dataclass(frozen=True)
class Conversion:
    service: str
    parameters: dict[str, str]  # parameter_overrides for a stack that runs the fleet
    not_carried: list[tuple[str, str]]  # (manifest field, what happens to it)
    changes: list[str]  # what behaves differently for the user
    attach: dict[str, str] = field(default_factory=dict)  # attach-mode parameter -> how to find the value

    def overrides(self) -> list[str]:
        return [f"{key}={value}" for key, value in self.parameters.items()]


def duration_s(value: Any, where: str) -> float:
    """A Copilot duration ("250ms", "45s", "10m", "1h30m", "4d") in seconds."""
    text = value.strip() if isinstance(value, str) else ""
    if not text or "".join(m.group(0) for m in _DURATION.finditer(text)) != text:
        raise ManifestError(f"{where}: {value!r} is not a duration (such as 250ms, 45s, 10m, 1h, 4d)")
    return sum(float(number) * _UNITS[unit] for number, unit in _DURATION.findall(text))


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ManifestError(f"{where}: must be a mapping, got {value!r}")
    return value


def _whole(value: Any, where: str, low: int, high: int | None = None) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise ManifestError(f"{where}: must be a whole number {bounds}, got {value!r}")
    return value


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """An `environments.ENV` override deep-merged over the manifest, as Copilot applies it."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def convert(
    manifest: Any, *, env: str | None = None, app: str | None = None, concurrency: int = 1
) -> Conversion:
    """``concurrency``: messages one task works on at once (WorkerConcurrency); Copilot's
    backlog-per-task target assumes one."""
    document = _mapping(manifest, "the manifest")
    environments = _mapping(document.get("environments") or {}, "environments")
    if env is not None and env in environments:
        document = merge(document, _mapping(environments[env], f"environments.{env}"))
    kind = document.get("type")
    if kind != WORKER_SERVICE:
        raise ManifestError(f"type: {kind!r} is not a {WORKER_SERVICE!r} manifest")
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise ManifestError("name: missing (the service's name)")
    result = _Builder(concurrency)
    result.set("WorkerPlatform", "ECS")
    result.count(document.get("count"))
    result.task(document)
    result.queue(_mapping(document.get("subscribe") or {}, "subscribe"))
    result.image(document.get("image"))
    for other in environments:
        if other != env:
            result.drop(
                f"environments.{other}", f"applies to Copilot's {other} environment only: pass --env {other}"
            )
    for key in document:
        if key in _NOT_CARRIED:
            result.drop(key, _NOT_CARRIED[key])
        elif key not in {
            "name",
            "type",
            "count",
            "cpu",
            "memory",
            "platform",
            "subscribe",
            "image",
            "environments",
        }:
            result.drop(key, "not a Worker Service field this importer knows")
    result.changes += _always_changes(result.parameters)
    return Conversion(
        service=name,
        parameters=result.parameters,
        not_carried=result.not_carried,
        changes=result.changes,
        attach=attach_hints(name, app, env),
    )


def attach_hints(service: str, app: str | None, env: str | None) -> dict[str, str]:
    """Where the attach-mode values are: Copilot's environment stack APP-ENV names the cluster
    APP-ENV-Cluster-<suffix>, the service stack APP-ENV-SVC names the service APP-ENV-SVC-Service-<suffix>
    and its queue APP-ENV-SVC-EventsQueue-<suffix>, encrypted with the stack's own KMS key
    (CloudFormation's generated names: docs/aws-behaviour.md#cfn-generated-names)."""
    prefix = f"{app or 'APP'}-{env or 'ENV'}"
    stack = f"{prefix}-{service}"
    return {
        "ExistingEcsClusterName": f"aws ecs list-clusters: the one named {prefix}-Cluster-<suffix>",
        "ExistingEcsServiceName": f"aws ecs list-services --cluster CLUSTER: {stack}-Service-<suffix>",
        "ExistingQueueArn": f"aws sqs list-queues --queue-name-prefix {stack}-EventsQueue, then its QueueArn",
        "ExistingQueueKmsKeyArn": (
            "the ARN of the queue's KmsMasterKeyId (aws sqs get-queue-attributes); empty if it has none"
        ),
    }


class _Builder:
    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.parameters: dict[str, str] = {}
        self.not_carried: list[tuple[str, str]] = []
        self.changes: list[str] = []

    def set(self, name: str, value: object) -> None:
        self.parameters[name] = str(value)

    def drop(self, where: str, why: str) -> None:
        self.not_carried.append((where, why))

    def count(self, count: Any) -> None:
        if count is None:
            self.drop("count", "absent: Copilot ran 1 task; MaxCapacity keeps the template's default")
            return
        if isinstance(count, int) and not isinstance(count, bool):
            tasks = _whole(count, "count", 0, MAX_CAPACITY)
            self.set("MaxCapacity", tasks)
            self.changes.append(
                f"Copilot kept {tasks} tasks running; the stack scales 0..{tasks} on the backlog"
            )
            self.changes.append(NO_QUEUE_DELAY)
            return
        spec = _mapping(count, "count")
        if "spot" in spec:
            self.set("MaxCapacity", _whole(spec["spot"], "count.spot", 0, MAX_CAPACITY))
            self.set("UseFargateSpot", "true")
            self.changes.append(
                "Copilot kept count.spot tasks on Fargate Spot; the stack scales 0..that on Spot"
            )
        if "range" in spec:
            self._range(spec["range"])
        delay = spec.get("queue_delay")
        if delay is not None:
            self._queue_delay(_mapping(delay, "count.queue_delay"))
        else:
            self.changes.append(NO_QUEUE_DELAY)
        for key in spec:
            if key in {"cpu_percentage", "memory_percentage", "requests", "response_time"}:
                self.drop(
                    f"count.{key}", "the stack scales on the backlog only; a second policy would fight it"
                )
            elif key == "cooldown":
                self.drop(
                    "count.cooldown", "the stack's cooldowns are its own (60 s steps, target tracking's)"
                )
            elif key not in {"spot", "range", "queue_delay"}:
                self.drop(f"count.{key}", "not a count field this importer knows")

    def _range(self, value: Any) -> None:
        if isinstance(value, str):
            match = _RANGE.match(value)
            if match is None:
                raise ManifestError(f"count.range: {value!r} is not MIN-MAX (such as 1-10)")
            low, high, spot_from = int(match.group(1)), int(match.group(2)), None
        else:
            spec = _mapping(value, "count.range")
            low = _whole(spec.get("min", 0), "count.range.min", 0)
            high = _whole(spec.get("max"), "count.range.max", 0)
            spot_from = spec.get("spot_from")
        if high > MAX_CAPACITY:
            raise ManifestError(f"count.range: max {high} is above MaxCapacity's limit {MAX_CAPACITY}")
        if low > high:
            raise ManifestError(f"count.range: min {low} is above max {high}")
        self.set("MaxCapacity", high)
        if low:
            self.drop(
                "count.range.min",
                f"{low}: the stack scales to 0 when the queue is empty; KeepWarm=true keeps one task"
                " until it has been empty KeepWarmMinutes",
            )
        if spot_from is not None:
            first = _whole(spot_from, "count.range.spot_from", 1)
            self.set("UseFargateSpot", "true")
            if first > 1:
                self.drop(
                    "count.range.spot_from",
                    f"{first}: the stack runs every task on one capacity provider; UseFargateSpot=true puts"
                    f" the first {first - 1} on Spot too (UseFargateSpot=false: none)",
                )

    def _queue_delay(self, delay: Mapping[str, Any]) -> None:
        latency = duration_s(delay.get("acceptable_latency"), "count.queue_delay.acceptable_latency")
        processing = duration_s(delay.get("msg_processing_time"), "count.queue_delay.msg_processing_time")
        if processing <= 0:
            raise ManifestError("count.queue_delay.msg_processing_time: must be more than 0")
        slo = latency + processing  # Copilot's latency is the wait; the stack's SLO runs to the finish
        self.set("LatencySloSeconds", math.ceil(slo))
        self.set("WorkerConcurrency", self.concurrency)
        self.set("InitialTarget", max(1, math.floor(self.concurrency * slo / processing)))
        if "cooldown" in delay:
            self.drop("count.queue_delay.cooldown", "the stack's cooldowns are its own")

    def task(self, document: Mapping[str, Any]) -> None:
        if "cpu" in document:
            cpu = str(_whole(document["cpu"], "cpu", 1))
            if cpu in TASK_CPU:
                self.set("TaskCpu", cpu)
            else:
                self.drop("cpu", f"{cpu}: TaskCpu takes {', '.join(TASK_CPU)}")
        if "memory" in document:
            self.set("TaskMemory", _whole(document["memory"], "memory", 1))
        platform = document.get("platform")
        if platform is None:
            return
        if isinstance(platform, str):
            osfamily, _, architecture = platform.partition("/")
        else:
            spec = _mapping(platform, "platform")
            osfamily, architecture = str(spec.get("osfamily", "")), str(spec.get("architecture", ""))
        if osfamily.lower() != "linux" or architecture.lower() not in _ARCHITECTURES:
            self.drop("platform", f"{platform}: the template runs Linux tasks on X86_64 or ARM64 only")
            return
        self.set("FargateCpuArchitecture", _ARCHITECTURES[architecture.lower()])

    def queue(self, subscribe: Mapping[str, Any]) -> None:
        queue = _mapping(subscribe.get("queue") or {}, "subscribe.queue")
        if "timeout" in queue:
            timeout = duration_s(queue["timeout"], "subscribe.queue.timeout")
            low, high = VISIBILITY_RANGE
            if timeout > high:
                raise ManifestError(f"subscribe.queue.timeout: {queue['timeout']} is over SQS's 12 hours")
            self.set("WorkerVisibilityTimeout", max(low, math.ceil(timeout)))
            if timeout < low:
                self.changes.append(
                    f"subscribe.queue.timeout {queue['timeout']} is raised to {low} s, the least"
                )
        dead_letter = _mapping(queue.get("dead_letter") or {}, "subscribe.queue.dead_letter")
        if "tries" in dead_letter:
            self.set(
                "MaxReceiveCount",
                _whole(dead_letter["tries"], "subscribe.queue.dead_letter.tries", *RECEIVE_RANGE),
            )
        else:
            self.changes.append(
                "Copilot made no dead-letter queue without subscribe.queue.dead_letter.tries; the stack's"
                f" queue moves a message to one after MaxReceiveCount ({DEFAULT_MAX_RECEIVE}) receives"
            )
        if "retention" in queue:
            retention = duration_s(queue["retention"], "subscribe.queue.retention")
            if retention != STACK_RETENTION_S:
                self.drop(
                    "subscribe.queue.retention",
                    f"{queue['retention']}: the stack's queue keeps messages 4 days; attach to Copilot's"
                    " queue (ExistingQueueArn) to keep its retention",
                )
        fifo = queue.get("fifo")
        if fifo:
            self.set("QueueType", "FIFO")
            if isinstance(fifo, Mapping):
                for key in fifo:
                    self.drop(f"subscribe.queue.fifo.{key}", "the stack's FIFO queue has its own settings")
        for key in queue:
            if key == "delay":
                self.drop("subscribe.queue.delay", "the stack's queue delivers at once (no DelaySeconds)")
            elif key not in {"timeout", "dead_letter", "retention", "fifo"}:
                self.drop(f"subscribe.queue.{key}", "not a queue field this importer knows")
        topics = subscribe.get("topics") or []
        if not isinstance(topics, list):
            raise ManifestError(f"subscribe.topics: must be a list, got {topics!r}")
        for index, topic in enumerate(topics):
            spec = _mapping(topic, f"subscribe.topics[{index}]")
            label = f"subscribe.topics[{spec.get('service')}-{spec.get('name')}]"
            self.drop(
                label, "the stack's queue subscribes to no SNS topic: attach to Copilot's queue to keep it"
            )
            if spec.get("queue"):
                self.drop(f"{label}.queue", "a queue of its own: give it to the stack in ExtraQueueArns")

    def image(self, image: Any) -> None:
        if image is None:
            return
        spec = _mapping(image, "image")
        if "location" in spec:
            self.set("WorkerImageUri", spec["location"])
        for key in spec:
            if key == "build":
                self.drop("image.build", "build and push the image yourself (docs/deploy.md, step 3)")
            elif key != "location":
                self.drop(f"image.{key}", "the stack's task definition has its own container settings")


def _always_changes(parameters: Mapping[str, str]) -> list[str]:
    target = (
        f"InitialTarget {parameters['InitialTarget']} = WorkerConcurrency x (acceptable_latency +"
        " msg_processing_time) / msg_processing_time: Copilot's backlog per task plus the messages a task"
        " holds"
        if "InitialTarget" in parameters
        else "InitialTarget stays the template's"
    )
    return [
        "in-flight counted: BacklogPerInstance is (visible + in-flight messages) per running task, where"
        f" Copilot's BacklogPerTask counted the visible ones only; {target}",
        "the target retuned: the target tuner replaces InitialTarget with one from the measured"
        " MsgProcessingDuration every TunerSchedule; only the project's worker publishes it, so while"
        " Copilot's worker runs (attach mode) the target stays InitialTarget",
        "scale to zero: the fleet goes to 0 once the queue has been empty ShutdownAfterMinutes, and the"
        " bootstrap alarm starts a task for the next message (a cold start: a minute plus the boot)",
        "the SLO guard: LatencySloSeconds runs from sending to finishing; the tuner lowers the target when"
        " the oldest message has waited past SloGuardShare of the waiting budget, and the slo-breach alarm"
        " fires past LatencySloSeconds",
    ]
