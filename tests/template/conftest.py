"""Fixtures of the template checks: the translated template per platform and the deployed stacks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from qas import emulator


@pytest.fixture(scope="session", params=["EC2", "ECS"])
def platform(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def translated(platform: str) -> dict[str, Any]:
    """The SAM template translated to CloudFormation (the same one the emulator deploys)."""
    return emulator.translate(parameters={"WorkerPlatform": platform})


@pytest.fixture(scope="session")
def resources(translated: dict[str, Any]) -> dict[str, Any]:
    return dict(translated["Resources"])


def resolved(parameters: dict[str, str]) -> tuple[dict[str, Any], emulator.Resolver]:
    """The translated template and a resolver of its conditions and intrinsics for these parameters
    (the others at their defaults)."""
    translated = emulator.translate(parameters=parameters)
    given = {
        name: str(spec["Default"]) for name, spec in translated["Parameters"].items() if "Default" in spec
    }
    return translated, emulator.Resolver(translated, given | parameters, "stack", str, lambda *_: "")


def active(parameters: dict[str, str]) -> set[str]:
    """The logical ids CloudFormation creates with these parameters (their conditions resolved)."""
    translated, resolver = resolved(parameters)
    return {
        logical_id
        for logical_id, resource in translated["Resources"].items()
        if "Condition" not in resource or resolver.condition(resource["Condition"])
    }


@pytest.fixture(scope="session")
def server() -> Iterator[emulator.EmulatorServer]:
    with emulator.running_server() as running:
        yield running


# moto keeps one state per process, shared by this server and every `mock_aws` or demo in the same
# pytest worker, and those reset it. So a deployed stack is cached only while it still exists.
_DEPLOYED: dict[tuple[str, str], emulator.DeployedStack] = {}


def deployed(
    server: emulator.EmulatorServer,
    stack_name: str,
    parameters: dict[str, str],
    platform: str,
    *,
    materialize: bool = True,
) -> emulator.DeployedStack:
    """The stack deployed on the server: the cached one while moto still has it, else a new one."""
    key = (server.endpoint, stack_name)
    cached = _DEPLOYED.get(key)
    if cached is not None and _alive(cached):
        return cached
    stack = emulator.deploy(server.endpoint, stack_name, parameters, platform, materialize=materialize)
    _DEPLOYED[key] = stack
    return stack


def _alive(stack: emulator.DeployedStack) -> bool:
    cfn = aws(stack, "cloudformation")
    try:
        status = cfn.describe_stacks(StackName=stack.stack_name)["Stacks"][0]["StackStatus"]
    except cfn.exceptions.ClientError:
        return False
    return bool(status == "CREATE_COMPLETE")


@pytest.fixture
def stack(server: emulator.EmulatorServer, platform: str) -> emulator.DeployedStack:
    """The template deployed on the moto server, skipped resources materialized."""
    return deployed(server, f"qas-{platform.lower()}", {}, platform)


def aws(stack: emulator.DeployedStack, service: str) -> Any:
    """A client of the stack's emulator that fails at once instead of retrying moto's 500s."""
    return emulator.client(stack.endpoint, service, max_attempts=1)
