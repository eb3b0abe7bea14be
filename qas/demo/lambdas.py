"""The deployed functions, run warm in child processes, fired on their EventBridge schedules.

moto stores functions and rules but runs neither without Docker, so the demo plays both parts: it
reads each rule (schedule, state, target, Input) from the emulated EventBridge every demo minute
and invokes the target function's handler with the deployed function's environment.
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from mypy_boto3_events import EventBridgeClient
from mypy_boto3_lambda import LambdaClient

from qas.demo.envs import child_env
from qas.demo.procs import ProcessRegistry

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_MINUTES_PER_UNIT = {"minute": 1, "hour": 60, "day": 1440}


def rate_minutes(expression: str) -> int | None:
    """Minutes between firings of a `rate(...)` expression; None for anything else (cron)."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    return int(match.group(1)) * _MINUTES_PER_UNIT[match.group(2).rstrip("s")]


@dataclass(frozen=True)
class DeployedFunction:
    name: str
    handler: str
    environment: dict[str, str]
    timeout_s: float

    @classmethod
    def describe(cls, client: LambdaClient, name: str) -> DeployedFunction:
        config = client.get_function_configuration(FunctionName=name)
        return cls(
            name=config["FunctionName"],
            handler=config["Handler"],
            environment={k: str(v) for k, v in config.get("Environment", {}).get("Variables", {}).items()},
            timeout_s=float(config.get("Timeout", 60)),
        )


@dataclass(frozen=True)
class Invocation:
    function: str
    minute: int
    ok: bool
    result: Any = None
    error: str | None = None


class WarmFunction:
    """One long-lived child per function, like a warm Lambda container."""

    def __init__(
        self,
        function: DeployedFunction,
        endpoint_url: str,
        registry: ProcessRegistry,
        log_dir: Path,
        seed: int,
    ) -> None:
        self.function = function
        self._log = (log_dir / f"lambda-{function.name}.log").open("a", encoding="utf-8")
        self._registry = registry
        self._proc = registry.start(
            [
                sys.executable,
                "-m",
                "qas.demo.lambda_host",
                function.handler,
                function.name,
                str(function.timeout_s),
                str(seed),
            ],
            # What the Lambda runtime adds to the deployed variables: handlers validate their
            # settings at import when AWS_LAMBDA_FUNCTION_NAME is set (a failed cold start).
            child_env(endpoint_url, {**function.environment, "AWS_LAMBDA_FUNCTION_NAME": function.name}),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self._answers: queue.Queue[str] = queue.Queue()
        assert self._proc.stdout is not None
        threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            self._answers.put(line.decode("utf-8"))

    def invoke(self, event: dict[str, Any], minute: int) -> Invocation:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write((json.dumps(event) + "\n").encode("utf-8"))
            self._proc.stdin.flush()
            line = self._answers.get(timeout=self.function.timeout_s)
        except (BrokenPipeError, queue.Empty) as exc:
            return Invocation(self.function.name, minute, False, error=f"runtime gone: {exc!r}")
        answer = json.loads(line)
        return Invocation(self.function.name, minute, answer["ok"], answer.get("result"), answer.get("error"))

    def close(self) -> None:
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()  # the host leaves its loop at end of input
        self._registry.stop(self._proc, grace_s=5.0)
        self._log.close()


@dataclass(frozen=True)
class Rule:
    name: str
    every_minutes: int | None
    enabled: bool
    function_name: str
    event: dict[str, Any]


def scheduled_event(rule_name: str) -> dict[str, Any]:
    """What EventBridge sends a target that has no Input: a Scheduled Event."""
    return {
        "version": "0",
        "id": f"demo-{time.time_ns()}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule_name}"],
        "detail": {},
    }


def read_rules(events: EventBridgeClient) -> list[Rule]:
    """Every scheduled rule whose target is a Lambda function, as stored in the emulator now."""
    rules: list[Rule] = []
    for page in events.get_paginator("list_rules").paginate():
        for rule in page["Rules"]:
            expression = rule.get("ScheduleExpression")
            if not expression:
                continue
            for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
                arn = target["Arn"]
                if ":lambda:" not in arn or ":function:" not in arn:
                    continue
                function_name = arn.split(":function:", 1)[1].split(":", 1)[0]
                event = json.loads(target["Input"]) if target.get("Input") else scheduled_event(rule["Name"])
                rules.append(
                    Rule(
                        rule["Name"],
                        rate_minutes(expression),
                        rule.get("State") == "ENABLED",
                        function_name,
                        event,
                    )
                )
    return rules


def due(rule: Rule, minute: int) -> bool:
    """A rate(N minutes) rule fires at demo minutes 0, N, 2N... while enabled."""
    return rule.enabled and rule.every_minutes is not None and minute % rule.every_minutes == 0
