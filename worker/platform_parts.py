"""The worker's parts that depend on its platform: scale-in protection, the EC2 termination and
launch lifecycle hooks, the warm-pool gate. One builder per platform in `PARTS`
(tests/worker/test_platform_seam.py checks every platform has one), so `worker.__main__` does not
branch on the platform."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from worker.clients import Clients
from worker.fleet_platform import Platform
from worker.imds import Imds
from worker.launch import LaunchReadiness
from worker.lifecycle import LifecycleActions
from worker.protection import Ec2InstanceProtection, EcsTaskProtection, NoProtection, Protector
from worker.settings import Settings
from worker.termination import TerminationWatcher
from worker.warm_pool import WarmPoolGate


@dataclass(frozen=True)
class PlatformParts:
    protector: Protector
    watcher: TerminationWatcher | None = None  # EC2: the termination hook, drained on notice
    readiness: LaunchReadiness | None = None  # EC2: the launch hook, completed after the first receive
    gate: WarmPoolGate | None = None  # EC2 with the launch hook: held while bound for a warm pool


def local_parts(settings: Settings, clients: Clients) -> PlatformParts:
    """No fleet: nothing to protect, nobody to tell."""
    return PlatformParts(NoProtection())


def ec2_parts(settings: Settings, clients: Clients) -> PlatformParts:
    imds = Imds(settings.imds_endpoint)
    protection = Ec2InstanceProtection(clients.autoscaling, settings.fleet_name, imds)
    lifecycle = LifecycleActions(
        clients.autoscaling, settings.fleet_name, protection.instance_id, settings.hook_timeouts
    )
    watcher = TerminationWatcher(
        imds, lifecycle, settings.lifecycle_hook_name, poll_seconds=settings.termination_poll_seconds
    )
    readiness = gate = None
    if settings.launch_hook_name:
        readiness = LaunchReadiness(lifecycle, settings.launch_hook_name)
        readiness.watch(clients.sqs)
        gate = WarmPoolGate(
            imds, lifecycle, settings.launch_hook_name, poll_seconds=settings.termination_poll_seconds
        )
    return PlatformParts(protection, watcher, readiness, gate)


def ecs_parts(settings: Settings, clients: Clients) -> PlatformParts:
    return PlatformParts(EcsTaskProtection(settings.ecs_agent_uri, settings.protection_expires_minutes))


PARTS: dict[Platform, Callable[[Settings, Clients], PlatformParts]] = {
    Platform.LOCAL: local_parts,
    Platform.EC2: ec2_parts,
    Platform.ECS: ecs_parts,
}
