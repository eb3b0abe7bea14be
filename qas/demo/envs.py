"""The environment every child process of the demo gets: fake credentials, the emulator, nothing else.

Children do not inherit the user's environment wholesale: an AWS_PROFILE or real keys there must
never reach a process that could talk to AWS.
"""

from __future__ import annotations

import os

from qas.emulator.offline import OFFLINE_ENV

_FAKE_AWS = {
    **OFFLINE_ENV,
    # Tracer would try to reach an X-Ray daemon; the demo has none.
    "POWERTOOLS_TRACE_DISABLED": "true",
    "PYTHONUNBUFFERED": "1",
}
_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")


def child_env(endpoint_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a child talking to the emulator at endpoint_url (loopback only)."""
    env = {name: os.environ[name] for name in _KEEP if name in os.environ}
    env.update(extra or {})
    # Set last so that nothing in `extra` (e.g. a deployed function's variables) can override them.
    env.update(_FAKE_AWS)
    env["AWS_ENDPOINT_URL"] = endpoint_url
    return env
