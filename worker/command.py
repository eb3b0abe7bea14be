"""WORKER_COMMAND: any program as the handler, one child process per message.

The child gets the raw message body on stdin and, in its environment, SQS_MESSAGE_ID,
SQS_RECEIVE_COUNT, JOB_ID (when the body is a JSON object with a string "job_id") and each String or
Number message attribute as SQS_ATTR_<NAME> (upper case, other characters as "_"). Its stdout and
stderr become worker log lines carrying the message id.

Exit 0: processed. WORKER_PERMANENT_EXIT_CODE (default 3): the message can never succeed (it goes
the malformed way, on to the DLQ). Any other code, or death by a signal: a transient failure,
retried after the backoff.

Unlike a Python handler thread, a child can be stopped: when the worker cancels the job (over
WORKER_MAX_JOB_SECONDS, or still running at the end of the shutdown grace) its whole process group
gets SIGTERM, then SIGKILL after WORKER_KILL_GRACE_SECONDS. The child runs in a session of its own
so that what it starts (a shell pipeline, ffmpeg's helpers) is in that group too; the group is
killed even after a normal exit, so nothing it left behind keeps running. Python's subprocess is
the library for this; the only hand-rolled part is waiting without reaping (os.waitid WNOWAIT),
which keeps the group id from being reused by another process before the group is killed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO, Any

from worker import handlers

log = logging.getLogger("worker.command")

_POLL_SECONDS = 0.05
_MAX_LINE_CHARS = 8_192  # one log line per output line; longer lines are cut
_ENV_NAME = re.compile(r"[^A-Z0-9_]")


class CommandFailed(Exception):  # noqa: N818 - a transient failure, reported as the job's error
    """The command exited with a code other than 0 and the permanent code, or died by a signal."""


def child_environment(base: Mapping[str, str], context: handlers.MessageContext) -> dict[str, str]:
    env = dict(base)
    for name, value in context.attributes.items():
        env["SQS_ATTR_" + _ENV_NAME.sub("_", name.upper())] = value
    env["SQS_MESSAGE_ID"] = context.message_id
    env["SQS_RECEIVE_COUNT"] = str(context.receive_count)
    if context.job_id is not None:
        env["JOB_ID"] = context.job_id
    else:
        env.pop("JOB_ID", None)
    return env


def job_id_of(body: str) -> str | None:
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return None
    value = parsed.get("job_id") if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else None


class CommandHandler:
    """A handler (worker.handlers.Handler) that runs `argv` for each message."""

    raw_body = True  # the consumer hands any body over, JSON or not

    def __init__(self, argv: Sequence[str], permanent_exit_code: int, kill_grace_seconds: float) -> None:
        self.argv = list(argv)
        self.permanent_exit_code = permanent_exit_code
        self.kill_grace_seconds = kill_grace_seconds

    def __call__(self, _body: dict[str, Any]) -> None:
        context = handlers.current_message()
        if context is None:
            raise RuntimeError("CommandHandler runs inside the worker only")
        cancel = handlers.cancel_event() or threading.Event()
        process = subprocess.Popen(  # noqa: S603 - argv from the operator's own setting, no shell
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_environment(os.environ, context),
            start_new_session=True,
        )
        streams = [
            threading.Thread(target=_write, args=(process.stdin, context.body), daemon=True),
            *(
                threading.Thread(target=_stream, args=(pipe, name, context.message_id), daemon=True)
                for pipe, name in ((process.stdout, "stdout"), (process.stderr, "stderr"))
            ),
        ]
        for thread in streams:
            thread.start()
        log.info("command started", extra={"message_id": context.message_id, "pid": process.pid})
        cancelled = self._wait(process, cancel)
        # The leader has exited but is not reaped: its group id cannot be reused yet.
        _kill_group(process.pid, signal.SIGKILL)
        code = process.wait()
        for thread in streams:
            thread.join(timeout=5)
        if cancelled:
            raise handlers.JobCancelled
        if code == 0:
            return
        if code == self.permanent_exit_code:
            raise handlers.PermanentError(f"command exited with {code} (permanent failure)")
        if code < 0:
            raise CommandFailed(f"command killed by {signal.Signals(-code).name}")
        raise CommandFailed(f"command exited with {code}")

    def _wait(self, process: subprocess.Popen[bytes], cancel: threading.Event) -> bool:
        """Wait for the leader to exit (without reaping it); True if the job was cancelled first."""
        while not _exited(process.pid):
            if cancel.wait(_POLL_SECONDS):
                self._stop(process)
                return True
        return False

    def _stop(self, process: subprocess.Popen[bytes]) -> None:
        log.warning("stopping command", extra={"pid": process.pid, "kill_grace_s": self.kill_grace_seconds})
        _kill_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.kill_grace_seconds
        while not _exited(process.pid) and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
        if not _exited(process.pid):
            log.warning("command ignored SIGTERM, killing it", extra={"pid": process.pid})
            _kill_group(process.pid, signal.SIGKILL)
            while not _exited(process.pid):
                time.sleep(_POLL_SECONDS)


def _exited(pid: int) -> bool:
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _kill_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is already empty
        os.killpg(pgid, signum)


def _write(pipe: IO[bytes] | None, body: str) -> None:
    if pipe is None:
        return
    try:
        pipe.write(body.encode())
    except BrokenPipeError:  # the command does not read its input: fine
        pass
    finally:
        with contextlib.suppress(BrokenPipeError):
            pipe.close()


def _stream(pipe: IO[bytes] | None, name: str, message_id: str) -> None:
    if pipe is None:
        return
    with pipe:
        for raw in pipe:
            line = raw.decode(errors="replace").rstrip("\n")
            log.info(line[:_MAX_LINE_CHARS], extra={"message_id": message_id, "stream": name})
