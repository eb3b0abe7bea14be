"""Per-member metadata endpoints for the workers, from qas.emulator.metadata_stubs: IMDSv2 (EC2) or the ECS
agent (ECS), each on its own loopback port, so each worker finds its own instance id / task (and,
on ECS, its task definition)."""

from __future__ import annotations

from typing import Protocol

from qas.emulator.metadata_stubs import EcsAgentStub, ImdsStub


class MetadataStub(Protocol):
    @property
    def url(self) -> str: ...

    def protected(self) -> bool:
        """Whether the worker has asked for scale-in protection (ECS; EC2 protection lives in the ASG)."""
        ...

    def close(self) -> None: ...


class _Imds:
    def __init__(self, instance_id: str) -> None:
        self._stub = ImdsStub(instance_id)
        self.url = self._stub.start()

    def protected(self) -> bool:
        return False  # the worker calls SetInstanceProtection on the emulated ASG instead

    def close(self) -> None:
        self._stub.stop()


class EcsAgent:
    def __init__(self, task_arn: str, cluster: str, task_definition: str) -> None:
        family, _, revision = task_definition.rsplit("/", 1)[-1].partition(":")
        self._stub = EcsAgentStub(task_arn, cluster=cluster, family=family, revision=int(revision or 1))
        self.url = self._stub.start()
        self.metadata_uri = self._stub.metadata_uri

    def protected(self) -> bool:
        return self._stub.protection_enabled

    def close(self) -> None:
        self._stub.stop()


def start_ec2_metadata(instance_id: str) -> MetadataStub:
    return _Imds(instance_id)


def start_ecs_agent(task_arn: str, cluster: str, task_definition: str) -> EcsAgent:
    """The agent of a task of `task_definition` (ARN or family:revision): protection and task metadata."""
    return EcsAgent(task_arn, cluster, task_definition)
