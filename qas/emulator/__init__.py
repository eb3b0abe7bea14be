"""Deploy template.yaml on a local moto server: the shared emulator of the tests and the demo.

Nothing here talks to AWS: the server listens on 127.0.0.1, the clients carry fake credentials.
A testing package, split by job; every public name below is importable from ``qas.emulator`` itself
(loaded on first use, so ``qas.emulator.offline`` stays cheap for the test suite's root conftest).

Parts
-----
``account``         the fixed fake account, region and code object; ``REPO_ROOT``, ``TEMPLATE_PATH``
``offline``         the fake-credentials environment of every process that talks to the emulator
``server``          ``EmulatorServer`` (moto on 127.0.0.1), ``start_server``, ``running_server``, ``client``
``translation``     ``load_template``, ``translate``: the SAM template as plain CloudFormation
``deployment``      ``deploy``, ``create_network``, ``effective_parameters``
``intrinsics``      ``Resolver``: Ref, Sub, GetAtt, If, Select, Split, Join and conditions
``materialize``     ``materialize_skipped``, ``resolve``: what moto's CloudFormation skips
``record``          the typed results: ``DeployedStack``, ``ScalingResources`` and their parts
``metadata_stubs``  ``ImdsStub``, ``EcsAgentStub``: loopback stubs of the worker's host endpoints
``lambda_context``  ``LocalLambdaContext``: the Lambda context object, for handlers called in-process

API
---
``start_server() -> EmulatorServer``
    A ``moto.server.ThreadedMotoServer`` on 127.0.0.1, port 0 (a free port). ``server.endpoint`` is
    its URL; ``server.stop()`` stops it; it is also a context manager. ``server.reset()`` empties it.

``translate(template_path, parameters=None) -> dict``
    The SAM template as plain CloudFormation (samtranslator, offline, fixed fake account/region).

``deploy(endpoint, stack_name, parameters=None, platform="EC2") -> DeployedStack``
    Creates what the template's parameters need (VPC, two subnets, a security group), creates the
    stack with CloudFormation on the server, waits for CREATE_COMPLETE, then calls
    ``materialize_skipped``. Returns the outputs, the physical ids, the translated template, the
    effective parameters and the materialized scaling resources.

``materialize_skipped(endpoint, stack) -> ScalingResources``
    moto's CloudFormation silently skips scaling policies, scalable targets, CloudWatch alarms,
    SQS queue policies and SNS topic policies. This creates them through the service APIs
    (resolving Ref, Sub, GetAtt, If, Select, Split, Join against the stack's parameters and
    physical ids), so the tuner can describe and update the real policy and the demo can read the
    alarms. Returns their definitions
    (``ScalingResources``: tracking policy, step policies, alarms, scalable target) in typed form.

``resolve(stack, node) -> Any``
    A fragment of the translated template resolved against a deployed stack (e.g. a role's policy).

``client(endpoint, service, max_attempts=3)``, ``create_network(endpoint)``, ``Resolver``
    Helpers: a boto3 client for the server, a VPC with two subnets and a security group, and the
    intrinsic-function resolver itself.

moto's state is one per process: every server and every ``mock_aws`` in it share it, and
``mock_aws`` (or ``server.reset()``) wipes it. Deploy again after anything else used moto.

Other moto gaps handled here: local ``CodeUri`` is rewritten to an uploaded S3 bundle (as
``sam package`` does); unnamed ECR repositories get CloudFormation's lower-case name (moto's own
contains capitals, which ECR rejects); every parameter is passed explicitly (moto leaves a list
parameter's default unsplit); SNS topic policies are materialized too.

moto also cannot return a generated attribute of a resource it skipped (``!GetAtt`` fails the stack;
``!Ref`` resolves to "None"). EC2 scaling policies cannot be named in CloudFormation, so the template
reads the name with ``!GetAtt Policy.PolicyName``: ``deploy`` substitutes the name it will give the
policy (``<stack>-<LogicalId>``, as CloudFormation names it) before creating the stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qas.emulator.account import (
        ACCOUNT_ID,
        CODE_BUCKET,
        CODE_KEY,
        PARTITION,
        REGION,
        REPO_ROOT,
        TEMPLATE_PATH,
        JsonDict,
    )
    from qas.emulator.deployment import Network, create_network, deploy, effective_parameters
    from qas.emulator.intrinsics import NO_VALUE, Resolver
    from qas.emulator.materialize import SKIPPED_TYPES, materialize_skipped, resolve
    from qas.emulator.record import (
        AlarmDefinition,
        DeployedStack,
        MetricQuery,
        ScalableTargetDefinition,
        ScalingResources,
        StepAdjustment,
        StepPolicyDefinition,
        TrackingPolicyDefinition,
    )
    from qas.emulator.server import SKIPPED_WARNING, EmulatorServer, client, running_server, start_server
    from qas.emulator.translation import load_template, translate

# Public name -> the part that defines it.
_HOME = {
    **dict.fromkeys(
        (
            "ACCOUNT_ID",
            "CODE_BUCKET",
            "CODE_KEY",
            "PARTITION",
            "REGION",
            "REPO_ROOT",
            "TEMPLATE_PATH",
            "JsonDict",
        ),
        "account",
    ),
    **dict.fromkeys(("Network", "create_network", "deploy", "effective_parameters"), "deployment"),
    **dict.fromkeys(("NO_VALUE", "Resolver"), "intrinsics"),
    **dict.fromkeys(("SKIPPED_TYPES", "materialize_skipped", "resolve"), "materialize"),
    **dict.fromkeys(
        (
            "AlarmDefinition",
            "DeployedStack",
            "MetricQuery",
            "ScalableTargetDefinition",
            "ScalingResources",
            "StepAdjustment",
            "StepPolicyDefinition",
            "TrackingPolicyDefinition",
        ),
        "record",
    ),
    **dict.fromkeys(
        ("SKIPPED_WARNING", "EmulatorServer", "client", "running_server", "start_server"), "server"
    ),
    **dict.fromkeys(("load_template", "translate"), "translation"),
}

__all__ = [
    "ACCOUNT_ID",
    "CODE_BUCKET",
    "CODE_KEY",
    "NO_VALUE",
    "PARTITION",
    "REGION",
    "REPO_ROOT",
    "SKIPPED_TYPES",
    "SKIPPED_WARNING",
    "TEMPLATE_PATH",
    "AlarmDefinition",
    "DeployedStack",
    "EmulatorServer",
    "JsonDict",
    "MetricQuery",
    "Network",
    "Resolver",
    "ScalableTargetDefinition",
    "ScalingResources",
    "StepAdjustment",
    "StepPolicyDefinition",
    "TrackingPolicyDefinition",
    "client",
    "create_network",
    "deploy",
    "effective_parameters",
    "load_template",
    "materialize_skipped",
    "resolve",
    "running_server",
    "start_server",
    "translate",
]


def __getattr__(name: str) -> Any:
    """Load the part that defines ``name`` on first use (PEP 562)."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})
