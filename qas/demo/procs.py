"""Every process the demo starts, and how they all get stopped (also on Ctrl-C or a crash).

Each child runs in its own session (so its own process group): a Ctrl-C in the terminal reaches
only the demo, which then stops the children in order (workers get SIGTERM and their grace
period, like a real scale-in), and a stop kills the child's whole group, not just its leader.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from types import FrameType
from typing import IO, Any


class StopRequestedError(Exception):
    """SIGINT/SIGTERM reached the demo: unwind through the finally blocks, then exit."""


class ProcessRegistry:
    """Starts children in their own process groups and guarantees they are gone at the end."""

    def __init__(self) -> None:
        self._children: list[subprocess.Popen[Any]] = []
        self._lock = threading.Lock()
        atexit.register(self.kill_all)

    def start(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        stdout: int | IO[Any] | None = None,
        stderr: int | IO[Any] | None = None,
        cwd: str | None = None,
    ) -> subprocess.Popen[Any]:
        proc: subprocess.Popen[Any] = subprocess.Popen(  # noqa: S603 - argv built by the demo, no shell
            list(argv),
            env=dict(env),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            start_new_session=True,
        )
        with self._lock:
            self._children.append(proc)
        return proc

    def signal(self, proc: subprocess.Popen[Any], sig: signal.Signals) -> None:
        """Send a signal to the child's whole process group (ignored if it is gone)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def stop(self, proc: subprocess.Popen[Any], grace_s: float) -> int | None:
        """SIGTERM, wait up to grace_s, then SIGKILL. Returns the exit code."""
        if proc.poll() is None:
            self.signal(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.signal(proc, signal.SIGKILL)
                proc.wait()
        # The leader may be gone while a grandchild of its group lives on.
        self.signal(proc, signal.SIGKILL)
        return proc.returncode

    def running(self) -> list[subprocess.Popen[Any]]:
        with self._lock:
            return [p for p in self._children if p.poll() is None]

    def kill_all(self, grace_s: float = 3.0) -> None:
        """Last line of defence: SIGTERM every child group, then SIGKILL the stragglers."""
        with self._lock:
            children = list(self._children)
        for proc in children:
            if proc.poll() is None:
                self.signal(proc, signal.SIGTERM)
        for proc in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace_s)
            self.signal(proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace_s)


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into `StopRequestedError` for the duration, so `finally` blocks clean up."""

    def _raise(signum: int, _frame: FrameType | None) -> None:
        # Once: a second Ctrl-C must not interrupt the clean-up the first one started.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        raise StopRequestedError(signal.Signals(signum).name)

    if threading.current_thread() is not threading.main_thread():
        # Signal handlers can only be installed from the main thread (e.g. under some test runners).
        yield
        return
    previous = {sig: signal.signal(sig, _raise) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
