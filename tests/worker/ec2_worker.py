"""A real worker process on a stubbed EC2 instance: instance metadata from an `ImdsStub`, the lifecycle
calls answered by an `AwsProxy` (moto lacks them), both hooks named as the template names them."""

from __future__ import annotations

from typing import Any

from qas.emulator.metadata_stubs import ImdsStub
from tests.worker.aws_proxy import AwsProxy

LAUNCH_HOOK = "ready-to-consume"
TERMINATION_HOOK = "drain-before-terminate"


def start_ec2_worker(
    start_worker: Any, queue_url: str, imds: ImdsStub, proxy: AwsProxy, **settings: str
) -> Any:
    return start_worker(
        queue_url,
        AWS_ENDPOINT_URL=proxy.url,
        WORKER_PLATFORM="EC2",
        FLEET_NAME="fleet",
        WORKER_IMDS_ENDPOINT=imds.url,
        WORKER_LAUNCH_HOOK_NAME=LAUNCH_HOOK,
        WORKER_LIFECYCLE_HOOK_NAME=TERMINATION_HOOK,
        WORKER_TERMINATION_POLL_SECONDS="0.2",
        **settings,
    )
