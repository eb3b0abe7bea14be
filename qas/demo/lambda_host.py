"""A warm "Lambda container" for the demo: imports one handler once, then serves invocations.

Run as ``python -m qas.demo.lambda_host <module.function> <function-name> <timeout-s> <seed>``
with the deployed function's environment. Each line on stdin is one event (JSON); each answer is one JSON
line on the protocol stream: ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": ...}``.
The handler's own prints (Powertools logs and EMF) go to stderr, so they cannot corrupt the protocol.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import sys
import traceback
from collections.abc import Callable
from typing import Any

from qas.emulator.lambda_context import LocalLambdaContext


def _load(handler: str, seed: int) -> Callable[[Any, Any], Any]:
    module_name, _, function_name = handler.rpartition(".")
    module = importlib.import_module(module_name)
    # --seed: the handler module's own generators (the producer draws durations from one) and the
    # random module. Reproduces the load's draws; timing on real processes still varies.
    random.seed(seed)
    generators = (value for value in vars(module).values() if isinstance(value, random.Random))
    for generator in generators:
        generator.seed(seed)
    function: Callable[[Any, Any], Any] = getattr(module, function_name)
    return function


def main(argv: list[str]) -> int:
    handler_path, function_name, timeout_s, seed = argv[0], argv[1], float(argv[2]), int(argv[3])
    # Keep the real stdout for answers; everything the handler prints goes to stderr instead.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    try:
        handler = _load(handler_path, seed)  # the cold start: settings are parsed here
    except Exception as exc:
        init_error = f"init failed: {type(exc).__name__}: {exc}"
        traceback.print_exc()
        for _line in sys.stdin:
            protocol.write(json.dumps({"ok": False, "error": init_error}) + "\n")
        return 1

    for line in sys.stdin:
        event = json.loads(line)
        context = LocalLambdaContext(function_name=function_name, timeout_seconds=timeout_s)
        try:
            result = handler(event, context)
            answer = {"ok": True, "result": result}
            text = json.dumps(answer, default=str)
        except Exception as exc:
            traceback.print_exc()
            text = json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        protocol.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
