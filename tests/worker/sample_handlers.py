"""Handlers the tests plug in with WORKER_HANDLER (imported by the worker subprocess)."""

from __future__ import annotations

from typing import Any

from worker.handlers import simulated_work


def poison_aware(body: dict[str, Any]) -> None:
    """Like the default handler, but a body with "poison": true always fails (a transient error)."""
    if body.get("poison"):
        raise RuntimeError("this message always fails")
    simulated_work(body)
