"""The moto server on 127.0.0.1 the emulator deploys on, and boto3 clients for it."""

from __future__ import annotations

import logging
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from qas.emulator.account import REGION
from qas.emulator.offline import FAKE_CREDENTIALS

# moto warns once per resource its CloudFormation skips (materialize creates exactly those).
SKIPPED_WARNING = "Tried to parse .* not supported by moto"


def _not_skipped_resource_log(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("No Moto CloudFormation support")


class EmulatorServer:
    """A moto server on 127.0.0.1 and a free port."""

    def __init__(self) -> None:
        # werkzeug logs every request to stderr otherwise, and moto warns once per resource it skips
        # on every stack (materialize_skipped creates exactly those).
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        logging.getLogger("moto").addFilter(_not_skipped_resource_log)
        warnings.filterwarnings("ignore", message=SKIPPED_WARNING)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def reset(self) -> None:
        """Forget every resource (moto's reset API), keeping the server up."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
            response.read()

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_server() -> EmulatorServer:
    """Start a moto server on 127.0.0.1 (free port); stop it with ``.stop()`` or ``with``."""
    return EmulatorServer()


@contextmanager
def running_server() -> Iterator[EmulatorServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


def client(endpoint: str, service: str, *, max_attempts: int = 3) -> Any:
    """A boto3 client for the emulator (fake credentials, fixed region, few retries)."""
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(retries={"mode": "standard", "max_attempts": max_attempts}),
        **FAKE_CREDENTIALS,
    )
