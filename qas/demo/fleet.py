"""The fleet: one real worker process per instance (EC2) or task (ECS), booting, running, stopping.

Capacity changes go to the emulator through the real APIs (EC2: SetDesiredCapacity, which honours
instance scale-in protection; ECS: UpdateService). The fleet then follows what the emulator says:
a new instance boots for ``boot_minutes`` demo minutes before its worker starts and it counts as
InService/running; a terminated one gets SIGTERM and its grace period, like a real scale-in.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Protocol

from mypy_boto3_autoscaling import AutoScalingClient
from mypy_boto3_ecs import ECSClient

from qas.demo.envs import child_env
from qas.demo.moto_state import Ec2Lifecycle, EcsRunningCount
from qas.demo.procs import ProcessRegistry
from qas.demo.stubs import EcsAgent, MetadataStub, start_ec2_metadata, start_ecs_agent
from qas.model.control_plane import Platform
from qas.model.scale_in_victims import InstanceView, plan_scale_in

# After SIGTERM a worker has its shutdown grace; past this much more it is killed.
KILL_MARGIN_S = 5.0
# A worker that exits on its own comes back after this long (the template's systemd RestartSec=5).
RESTART_DELAY_S = 5.0


class MemberState(StrEnum):
    BOOTING = "booting"
    RUNNING = "running"
    STOPPING = "stopping"


@dataclass
class Member:
    member_id: str
    launched_at: float  # time.monotonic()
    ready_at: float
    state: MemberState = MemberState.BOOTING
    proc: subprocess.Popen[Any] | None = None
    stub: MetadataStub | None = None
    log: IO[str] | None = None
    stop_deadline: float = 0.0


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker gets (docs/contracts.md, worker environment)."""

    queue_url: str
    fleet_name: str
    namespace: str
    concurrency: int
    visibility_timeout_s: int
    wait_time_s: int
    metrics_interval_s: float
    shutdown_grace_s: float


@dataclass
class FleetEvents:
    """What happened in one call, for the terminal and the timeline."""

    launched: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    terminating: list[str] = field(default_factory=list)
    exited: list[tuple[str, int | None]] = field(default_factory=list)
    blocked: int = 0


class CapacityApi(Protocol):
    """The platform's side: set desired capacity in the emulator and report the member ids there."""

    def set_desired(self, desired: int, members: dict[str, Member]) -> tuple[list[str], list[str], int]:
        """Returns (launched ids, terminated ids, excess kept because protected)."""

    def mark_running(self, members: dict[str, Member]) -> None: ...

    def worker_env(self, member: Member) -> dict[str, str]: ...

    def stub_for(self, member_id: str) -> MetadataStub: ...


class Ec2Capacity:
    def __init__(self, client: AutoScalingClient, group: str) -> None:
        self._client = client
        self._group = group
        self._lifecycle = Ec2Lifecycle(group)

    @classmethod
    def from_stack(cls, client: Callable[[str], Any], outputs: Mapping[str, str], fleet: str) -> Ec2Capacity:
        return cls(client("autoscaling"), fleet)

    def _ids(self) -> set[str]:
        groups = self._client.describe_auto_scaling_groups(AutoScalingGroupNames=[self._group])
        return {i["InstanceId"] for i in groups["AutoScalingGroups"][0].get("Instances", [])}

    def set_desired(self, desired: int, members: dict[str, Member]) -> tuple[list[str], list[str], int]:
        before = self._ids()
        with self._lifecycle.reconciling():
            self._client.set_desired_capacity(
                AutoScalingGroupName=self._group, DesiredCapacity=desired, HonorCooldown=False
            )
        after = self._ids()
        launched = sorted(after - before)
        self._lifecycle.launched(launched)
        return launched, sorted(before - after), max(0, len(after) - desired)

    def mark_running(self, members: dict[str, Member]) -> None:
        for member in members.values():
            if member.state is MemberState.RUNNING:
                self._lifecycle.in_service(member.member_id)

    def worker_env(self, member: Member) -> dict[str, str]:
        assert member.stub is not None
        return {"WORKER_PLATFORM": "EC2", "WORKER_IMDS_ENDPOINT": member.stub.url}

    def stub_for(self, member_id: str) -> MetadataStub:
        return start_ec2_metadata(member_id)


class EcsCapacity:
    """moto runs no tasks: the demo's tasks are its worker processes, ids made up here."""

    def __init__(self, client: ECSClient, cluster: str, service: str) -> None:
        self._client = client
        self._cluster = cluster
        self._service = service
        self._running = EcsRunningCount(cluster.rsplit("/", 1)[-1], service)
        self._numbers = itertools.count(1)
        # The demo's tasks run the service's task definition: their rollout watch finds it in force.
        [described] = client.describe_services(cluster=cluster, services=[service])["services"]
        self._task_definition = described["taskDefinition"]

    @classmethod
    def from_stack(cls, client: Callable[[str], Any], outputs: Mapping[str, str], fleet: str) -> EcsCapacity:
        return cls(client("ecs"), outputs["ClusterName"], fleet)

    def set_desired(self, desired: int, members: dict[str, Member]) -> tuple[list[str], list[str], int]:
        self._client.update_service(cluster=self._cluster, service=self._service, desiredCount=desired)
        live = [m for m in members.values() if m.state is not MemberState.STOPPING]
        launched: list[str] = []
        terminated: list[str] = []
        blocked = 0
        if desired > len(live):
            launched = [f"task-{next(self._numbers):04d}" for _ in range(desired - len(live))]
        elif desired < len(live):
            plan = plan_scale_in(
                (
                    InstanceView(
                        m.member_id,
                        protected=m.stub is not None and m.stub.protected(),
                        launched_at_s=m.launched_at,
                        running=m.state is MemberState.RUNNING,
                    )
                    for m in live
                ),
                desired,
            )
            terminated, blocked = list(plan.terminate), plan.blocked
        self.mark_running(members)
        return launched, terminated, blocked

    def mark_running(self, members: dict[str, Member]) -> None:
        # ECS counts a task running until it has stopped, so a draining worker still counts.
        self._running.set(sum(1 for m in members.values() if m.proc is not None))

    def worker_env(self, member: Member) -> dict[str, str]:
        assert isinstance(member.stub, EcsAgent)
        return {
            "WORKER_PLATFORM": "ECS",
            "ECS_AGENT_URI": member.stub.url,
            "ECS_CONTAINER_METADATA_URI_V4": member.stub.metadata_uri,
        }

    def stub_for(self, member_id: str) -> MetadataStub:
        return start_ecs_agent(member_id, self._cluster, self._task_definition)


# The demo's side of each platform (what moto does not do: the ASG's lifecycle states, the tasks), by
# platform; tests/architecture/test_platform_seam.py checks every platform has one.
CAPACITY_APIS: dict[Platform, Callable[[Callable[[str], Any], Mapping[str, str], str], CapacityApi]] = {
    Platform.EC2: Ec2Capacity.from_stack,
    Platform.ECS: EcsCapacity.from_stack,
}


class Fleet:
    def __init__(
        self,
        platform: Platform,
        api: CapacityApi,
        *,
        settings: WorkerSettings,
        endpoint_url: str,
        registry: ProcessRegistry,
        boot_s: float,
        log_dir: Path,
    ) -> None:
        self.platform = platform
        self._api = api
        self._settings = settings
        self._endpoint = endpoint_url
        self._registry = registry
        self._boot_s = boot_s
        self._log_dir = log_dir
        self.members: dict[str, Member] = {}
        self.desired = 0
        self.completion_files: list[Path] = []

    # --- capacity -------------------------------------------------------------------------------

    def set_desired(self, desired: int) -> FleetEvents:
        """Apply a new desired capacity (also re-applied each period so protected excess can go)."""
        self.desired = desired
        launched, terminated, blocked = self._api.set_desired(desired, self.members)
        now = time.monotonic()
        for member_id in launched:
            self.members[member_id] = Member(member_id, launched_at=now, ready_at=now + self._boot_s)
        events = FleetEvents(launched=launched, blocked=blocked)
        for member_id in terminated:
            if member_id in self.members:
                self._terminate(self.members[member_id])
                events.terminating.append(member_id)
        self._api.mark_running(self.members)
        return events

    def _terminate(self, member: Member) -> None:
        if member.proc is None:  # still booting: nothing runs yet
            self._forget(member)
            return
        member.state = MemberState.STOPPING
        member.stop_deadline = time.monotonic() + self._settings.shutdown_grace_s + KILL_MARGIN_S
        self._registry.signal(member.proc, signal.SIGTERM)

    def _forget(self, member: Member) -> None:
        if member.stub is not None:
            member.stub.close()
        if member.log is not None:
            member.log.close()
        self.members.pop(member.member_id, None)

    # --- processes ------------------------------------------------------------------------------

    def poll(self) -> FleetEvents:
        """Start workers whose boot is over; reap stopped ones. Cheap: call it often."""
        events = FleetEvents()
        now = time.monotonic()
        for member in list(self.members.values()):
            if member.state is MemberState.BOOTING and now >= member.ready_at:
                self._start_worker(member)
                events.started.append(member.member_id)
            elif member.proc is not None and member.proc.poll() is not None:
                events.exited.append((member.member_id, member.proc.returncode))
                if member.state is MemberState.STOPPING:
                    self._forget(member)
                else:
                    self._restart_later(member, now)
            elif (
                member.state is MemberState.STOPPING
                and now > member.stop_deadline
                and member.proc is not None
            ):
                self._registry.signal(member.proc, signal.SIGKILL)
        if events.started or events.exited:
            self._api.mark_running(self.members)
        return events

    def _restart_later(self, member: Member, now: float) -> None:
        """A worker died on its own: the instance's systemd unit (Restart=always) or ECS (a new task
        for the service) brings one back; the demo restarts it on the same member after a pause."""
        if member.stub is not None:
            member.stub.close()
        if member.log is not None:
            member.log.close()
        member.proc, member.stub, member.log = None, None, None
        member.state = MemberState.BOOTING
        member.ready_at = now + RESTART_DELAY_S

    def _start_worker(self, member: Member) -> None:
        s = self._settings
        member.stub = self._api.stub_for(member.member_id)
        completions = self._log_dir / f"completions-{member.member_id}.jsonl"
        if completions not in self.completion_files:
            self.completion_files.append(completions)
        env = {
            "QUEUE_URL": s.queue_url,
            "WORKER_CONCURRENCY": str(s.concurrency),
            "WORKER_HANDLER": "qas.demo.work:recorded_work",
            "FLEET_NAME": s.fleet_name,
            "METRIC_NAMESPACE": s.namespace,
            "WORKER_VISIBILITY_TIMEOUT": str(s.visibility_timeout_s),
            "WORKER_WAIT_TIME_SECONDS": str(s.wait_time_s),
            "WORKER_METRICS_INTERVAL": str(s.metrics_interval_s),
            "WORKER_SHUTDOWN_GRACE_SECONDS": str(s.shutdown_grace_s),
            "DEMO_COMPLETIONS_FILE": str(completions.resolve()),
            **self._api.worker_env(member),
        }
        member.log = (self._log_dir / f"worker-{member.member_id}.log").open("a", encoding="utf-8")
        member.proc = self._registry.start(
            [sys.executable, "-m", "worker"],
            child_env(self._endpoint, env),
            stdout=member.log,
            stderr=subprocess.STDOUT,
        )
        member.state = MemberState.RUNNING

    def count(self, state: MemberState) -> int:
        return sum(1 for m in self.members.values() if m.state is state)

    @property
    def size(self) -> int:
        """Instances/tasks that exist (booting, running or draining): what is paid for."""
        return len(self.members)

    def stop_all(self, grace_s: float) -> None:
        """End of the demo: SIGTERM every worker, wait for them, close the stubs."""
        for member in list(self.members.values()):
            if member.proc is not None:
                self._registry.stop(member.proc, grace_s)
            self._forget(member)
