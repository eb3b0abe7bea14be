"""`python -m worker`: validate settings and check the queues (exit 2 naming the bad variable), then
consume until SIGTERM (exit 2 too if SQS refuses a queue for good on the way)."""

from __future__ import annotations

import importlib
import os
import signal
import sys

from worker import handlers, logs
from worker.clients import make_clients
from worker.command import CommandHandler
from worker.consumer import Consumer
from worker.metrics import Publisher, Recorder
from worker.platform_parts import PARTS
from worker.protection import ProtectionState
from worker.queues import QueueUnusable, check_queues
from worker.rollout_watch import watch_rollouts
from worker.settings import Settings, SettingsError
from worker.termination import TERMINATING_EXIT_CODE
from worker.warm_pool import WarmPoolExit, WarmPoolGate


def load_handler(spec: str) -> handlers.Handler:
    module_name, _, function_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # any import failure is a bad setting
        raise SettingsError("WORKER_HANDLER", f"cannot import {module_name!r}: {error}") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise SettingsError("WORKER_HANDLER", f"{module_name!r} has no callable {function_name!r}")
    handler: handlers.Handler = function
    return handler


def main() -> int:
    try:
        settings = Settings.from_env(os.environ)
        handler: handlers.Handler
        if settings.command is not None:
            handler = CommandHandler(
                settings.command, settings.permanent_exit_code, settings.kill_grace_seconds
            )
        else:
            handler = load_handler(settings.handler)
        clients = make_clients(settings)
    except SettingsError as error:
        print(f"worker: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    try:
        check_queues(clients.sqs, settings.queues)
    except QueueUnusable as unusable:
        # A typo in the URL must not look like a healthy idle fleet: exit, and let the platform
        # report it (ECS stops the task, systemd restarts with backoff).
        print(f"worker: {SettingsError(settings.queues_variable, str(unusable))}", file=sys.stderr)
        return 2
    parts = PARTS[settings.platform](settings, clients)
    watcher, readiness, gate = parts.watcher, parts.readiness, parts.gate
    recorder = Recorder()
    consumer = Consumer(
        settings,
        clients.sqs,
        handler,
        protection=ProtectionState(parts.protector),
        recorder=recorder,
        publisher=Publisher(clients.cloudwatch, settings.metric_namespace, settings.fleet_name, recorder),
        api_calls=clients.counter.snapshot if clients.counter else None,
        housekeeping_sqs=clients.housekeeping_sqs,
    )
    # ECS: a daemon thread that retires this worker when a deployment replaces its task definition.
    rollout = watch_rollouts(settings, clients.ecs, consumer)
    if rollout is not None:
        rollout.start()
    if watcher is None:
        return consumer.run()
    if gate is not None:
        held = _hold_in_warm_pool(gate)
        if held is not None:
            return held
    # Checked once before the first receive: a worker restarted on a terminating instance takes nothing.
    reason = watcher.check()
    if reason is not None:
        consumer.request_stop(reason)
    else:
        watcher.start(consumer.request_stop)
    code = consumer.run()
    if readiness is not None:
        readiness.stop()
    watcher.stop()
    watcher.complete_if_terminating()
    # Drained because the instance is going away: a distinct code, so systemd does not start the
    # worker again there (a crash still exits 1 and is restarted, and the restart completes the action).
    return TERMINATING_EXIT_CODE if code == 0 and watcher.terminating else code


def _hold_in_warm_pool(gate: WarmPoolGate) -> int | None:
    """Before the first receive: on an instance headed for the warm pool, take nothing; the exit code
    when the worker must not consume at all (stopped in the pool, or the pool removes it), else None."""
    handlers = {sig: signal.signal(sig, lambda *_: gate.stop()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        outcome = gate.wait()
    finally:
        for sig, previous in handlers.items():
            signal.signal(sig, previous)
    if outcome is WarmPoolExit.TERMINATED:
        return TERMINATING_EXIT_CODE  # the unit does not start it again on an instance going away
    if outcome is WarmPoolExit.STOPPED:
        return 0
    return None


if __name__ == "__main__":
    sys.exit(main())
