"""Handlers the tests plug in with WORKER_HANDLER (imported by the worker subprocess)."""

from __future__ import annotations

import os
import time
from typing import Any

from worker.handlers import PermanentError, current_message, simulated_work


def poison_aware(body: dict[str, Any]) -> None:
    """Like the default handler, but a body with "poison": true always fails (a transient error)."""
    if body.get("poison"):
        raise RuntimeError("this message always fails")
    simulated_work(body)


def fifo_step(body: dict[str, Any]) -> None:
    """Appends "start <group> <seq> <time>" and "end ..." to $FIFO_EVENTS_FILE around the work.

    One os.write per line on an O_APPEND file: the kernel serialises the appends, so the file's
    line order is the order in which the steps started and ended, across slots and processes.
    On its first receive a step can fail ("fail_first"), or ignore the worker's cancellation
    ("stubborn_seconds": a plain sleep); "bad" always raises PermanentError."""
    context = current_message()
    first = context is None or context.receive_count == 1
    path = os.environ["FIFO_EVENTS_FILE"]
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"start {body['group']} {body['seq']} {time.time():.6f}\n".encode())
        if body.get("bad"):
            raise PermanentError("a bad step")
        if first and body.get("fail_first"):
            raise RuntimeError("fails on its first receive")
        if first and body.get("stubborn_seconds"):
            time.sleep(body["stubborn_seconds"])
        simulated_work(body)
    finally:
        os.write(fd, f"end {body['group']} {body['seq']} {time.time():.6f}\n".encode())
        os.close(fd)
