"""Fixtures of the template checks: the translated template per platform and the deployed stacks.

No test sees another's state. ``translated`` and ``resources`` are each test's own copy of one
translation. A test that changes what is deployed (sends messages, puts metrics, runs a handler,
deploys stacks of its own) asks for ``server``: the moto server emptied for it, then
``deployed(server, ...)``. The tests that only read the default stack share it through ``stack``,
and its clients (``aws(stack, ...)``) refuse any call that is not a Describe, Get or List, so no
test can change what another reads.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from qas import emulator

_READ_PREFIXES = ("Describe", "Get", "List")

# The FleetName dimension of every metric and alarm: the attached group or service (attach mode,
# tests/template/test_attach.py), else the fleet the stack creates.
FLEET_NAME = {
    "Fn::If": [
        "AttachFleet",
        {"Fn::Join": ["", [{"Ref": "ExistingAutoScalingGroupName"}, {"Ref": "ExistingEcsServiceName"}]]},
        {"Fn::Sub": "${AWS::StackName}-workers"},
    ]
}


def _shared_name(platform: str) -> str:
    return f"qas-{platform.lower()}"


# The stacks `stack` shares, read-only; `deployed` refuses these names.
SHARED = frozenset(_shared_name(platform) for platform in ("EC2", "ECS"))


@pytest.fixture(scope="session", params=["EC2", "ECS"])
def platform(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def _translation(platform: str) -> dict[str, Any]:
    return emulator.translate(parameters={"WorkerPlatform": platform})


@pytest.fixture
def translated(_translation: dict[str, Any]) -> dict[str, Any]:
    """The SAM template translated to CloudFormation (the same one the emulator deploys): this
    test's own copy."""
    return copy.deepcopy(_translation)


@pytest.fixture
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
def moto_server() -> Iterator[emulator.EmulatorServer]:
    with emulator.running_server() as running:
        yield running


@pytest.fixture
def server(moto_server: emulator.EmulatorServer) -> emulator.EmulatorServer:
    """The session's moto server, emptied for this test: what it deploys and changes is its own."""
    moto_server.reset()
    return moto_server


def deployed(
    server: emulator.EmulatorServer,
    stack_name: str,
    parameters: dict[str, str],
    platform: str,
    *,
    materialize: bool = True,
) -> emulator.DeployedStack:
    """A stack of this test's own on the (emptied) server."""
    if stack_name in SHARED:
        raise ValueError(f"{stack_name} is the shared read-only stack: name this one differently")
    return emulator.deploy(server.endpoint, stack_name, parameters, platform, materialize=materialize)


def _alive(stack: emulator.DeployedStack) -> bool:
    cfn = emulator.client(stack.endpoint, "cloudformation", max_attempts=1)
    try:
        status = cfn.describe_stacks(StackName=stack.stack_name)["Stacks"][0]["StackStatus"]
    except cfn.exceptions.ClientError:
        return False
    return bool(status == "CREATE_COMPLETE")


@pytest.fixture(scope="session")
def _shared_stacks() -> dict[str, emulator.DeployedStack]:
    return {}


@pytest.fixture
def stack(
    request: pytest.FixtureRequest,
    moto_server: emulator.EmulatorServer,
    platform: str,
    _shared_stacks: dict[str, emulator.DeployedStack],
) -> emulator.DeployedStack:
    """The template deployed on the moto server, skipped resources materialized, shared read-only.

    Deployed once and again only when something emptied moto (``server``, ``mock_aws``, a demo:
    moto keeps one state per process).
    """
    if "server" in request.fixturenames:
        raise pytest.UsageError("a test that empties the server (`server`) cannot also read `stack`")
    name = _shared_name(platform)
    cached = _shared_stacks.get(name)
    if cached is None or not _alive(cached):
        cached = _shared_stacks[name] = emulator.deploy(moto_server.endpoint, name, {}, platform)
    return cached


def _refuse_writes(model: Any, **_: Any) -> None:
    if not model.name.startswith(_READ_PREFIXES):
        raise AssertionError(
            f"{model.name} on the shared read-only stack: use `server` and `deployed` for a stack of your own"
        )


def aws(stack: emulator.DeployedStack, service: str) -> Any:
    """A client of the stack's emulator that fails at once instead of retrying moto's 500s; read-only
    on the shared stack."""
    client = emulator.client(stack.endpoint, service, max_attempts=1)
    if stack.stack_name in SHARED:
        client.meta.events.register("before-call", _refuse_writes)
    return client


def template_strings(node: Any) -> Iterator[str]:
    """Every string in a template fragment, however deep (intrinsics included)."""
    if isinstance(node, dict):
        for value in node.values():
            yield from template_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from template_strings(item)
    elif isinstance(node, str):
        yield node
