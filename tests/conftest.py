"""Suite-wide safety net: fake credentials, no instance metadata, no traffic off loopback."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from qas.emulator.offline import OFFLINE_ENV

_FAKE_ENV = {**OFFLINE_ENV, "SAM_CLI_TELEMETRY": "0"}
# Set at import so every subprocess a test starts inherits them too.
os.environ.update(_FAKE_ENV)
for _var in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_var, None)

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_address(address: Any) -> None:
    if isinstance(address, tuple) and address:
        host = address[0]
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            # A name: only localhost may be resolved by tests.
            if host not in ("localhost",):
                raise ConnectionRefusedError(f"tests may only connect to loopback, not {host!r}") from None
            return
        if not ip.is_loopback:
            raise ConnectionRefusedError(f"tests may only connect to loopback, not {host}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_address(address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _loopback_only() -> Iterator[None]:
    """Any connection to a non-loopback address fails loudly instead of reaching AWS."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
