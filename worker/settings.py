"""Worker settings from the environment, validated once at start (names in docs/contracts.md)."""

from __future__ import annotations

import json
import math
import shlex
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlparse

from worker.fleet_platform import TRAITS
from worker.fleet_platform import Platform as Platform  # noqa: PLC0414 (re-exported)
from worker.queues import queue_url as queue_url_of

# SQS hard limits: docs/aws-behaviour.md#sqs-visibility-12h and #sqs-long-poll-20.
MAX_VISIBILITY_SECONDS = 43_200  # 12 h, also the cap on a message's total invisibility from receive
MAX_WAIT_SECONDS = 20
# ECS task scale-in protection accepts 1..2880 minutes: docs/aws-behaviour.md#ecs-task-protection.
MAX_PROTECTION_MINUTES = 2_880
# A lifecycle hook's heartbeat timeout is 30..7200 s: docs/aws-behaviour.md#asg-launch-hook-ready.
HOOK_TIMEOUT_RANGE = (30, 7_200)
MAX_ROLLOUT_CHECK_SECONDS = 3_600

T = TypeVar("T")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"invalid setting {variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    queue_url: str
    # WORKER_QUEUE_URLS: every queue in priority order (URLs or ARNs); empty: QUEUE_URL alone.
    queue_urls: tuple[str, ...] = ()
    concurrency: int = 1
    handler: str = "worker.handlers:simulated_work"
    platform: Platform = Platform.LOCAL
    fleet_name: str = "local"
    metric_namespace: str = "QueueAutoscaler"
    visibility_timeout: int = 60
    max_job_seconds: float = 3600.0
    shutdown_grace_seconds: float = 100.0
    wait_time_seconds: int = 20
    metrics_interval: float = 60.0
    imds_endpoint: str = "http://169.254.169.254"
    ecs_agent_uri: str = ""
    # Settings beyond the contract (reported to the lead).
    retry_base_seconds: float = 10.0
    retry_max_seconds: float = 900.0
    protection_expires_minutes: int = 60
    log_level: str = "INFO"
    count_api_calls: bool = False
    # Command handlers (worker/command.py) and EC2 termination (worker/termination.py).
    command: tuple[str, ...] | None = None
    permanent_exit_code: int = 3
    kill_grace_seconds: float = 10.0
    lifecycle_hook_name: str = ""
    termination_poll_seconds: float = 5.0
    # ECS rollouts (worker/rollout_watch.py): ECS sets the metadata URL; 0 seconds turns the watch off.
    ecs_metadata_uri: str = ""
    rollout_check_seconds: float = 60.0
    # EC2: the launch lifecycle hook completed after the first receive (worker/launch.py).
    launch_hook_name: str = ""
    # EC2: the hooks' heartbeat timeouts, how long a lifecycle call is worth retrying
    # (worker/lifecycle.py); unset, the longest a hook can have.
    launch_hook_timeout_seconds: int = HOOK_TIMEOUT_RANGE[1]
    lifecycle_hook_timeout_seconds: int = HOOK_TIMEOUT_RANGE[1]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Parse and validate; raises SettingsError naming the first bad variable."""
        reader = _Reader(env)
        # A queue ARN is accepted as in WORKER_QUEUE_URLS: its URL (and region) come from the ARN.
        queue_url = queue_url_of(reader.text("QUEUE_URL", None))
        if not _is_http_url(queue_url):
            raise SettingsError("QUEUE_URL", f"{queue_url!r} is neither an http(s) URL nor an SQS queue ARN")
        queue_urls = tuple(
            queue_url_of(part) for part in env.get("WORKER_QUEUE_URLS", "").split(",") if part.strip()
        )
        for url in queue_urls:
            if not _is_http_url(url):
                raise SettingsError(
                    "WORKER_QUEUE_URLS", f"{url!r} is neither an http(s) URL nor an SQS queue ARN"
                )
        handler = reader.text("WORKER_HANDLER", cls.handler)
        module, _, function = handler.partition(":")
        if not module or not function:
            raise SettingsError("WORKER_HANDLER", f"{handler!r} is not module:function")
        raw_command = reader.text("WORKER_COMMAND", "")
        command = _command(raw_command) if raw_command else None
        if command is not None and reader.text("WORKER_HANDLER", "") != "":
            raise SettingsError("WORKER_COMMAND", "set WORKER_COMMAND or WORKER_HANDLER, not both")
        if command is not None and shutil.which(command[0], path=env.get("PATH")) is None:
            raise SettingsError("WORKER_COMMAND", f"{command[0]!r} is not an executable (or not on PATH)")
        platform = reader.parse(
            "WORKER_PLATFORM", cls.platform, lambda raw: Platform(raw.strip().upper()), "EC2, ECS or LOCAL"
        )
        namespace = reader.text("METRIC_NAMESPACE", cls.metric_namespace)
        if namespace.startswith("AWS/"):
            raise SettingsError("METRIC_NAMESPACE", "the AWS/ prefix is reserved")
        imds_endpoint = reader.text("WORKER_IMDS_ENDPOINT", cls.imds_endpoint).rstrip("/")
        if not _is_http_url(imds_endpoint):
            raise SettingsError("WORKER_IMDS_ENDPOINT", f"{imds_endpoint!r} is not an http(s) URL")
        ecs_agent_uri = env.get("ECS_AGENT_URI", "").strip().rstrip("/")
        if TRAITS[platform].needs_ecs_agent and not _is_http_url(ecs_agent_uri):
            raise SettingsError(
                "ECS_AGENT_URI", f"WORKER_PLATFORM={platform} needs the ECS agent URL (set by ECS)"
            )
        ecs_metadata_uri = env.get("ECS_CONTAINER_METADATA_URI_V4", "").strip().rstrip("/")
        if ecs_metadata_uri and not _is_http_url(ecs_metadata_uri):
            raise SettingsError(
                "ECS_CONTAINER_METADATA_URI_V4", f"{ecs_metadata_uri!r} is not an http(s) URL"
            )
        retry_base = reader.number(
            "WORKER_RETRY_BASE_SECONDS", cls.retry_base_seconds, 0, MAX_VISIBILITY_SECONDS
        )
        settings = cls(
            queue_url=queue_url,
            queue_urls=queue_urls,
            concurrency=reader.integer("WORKER_CONCURRENCY", cls.concurrency, 1, 1000),
            handler=handler,
            platform=platform,
            fleet_name=reader.text("FLEET_NAME", cls.fleet_name),
            metric_namespace=namespace,
            visibility_timeout=reader.integer(
                "WORKER_VISIBILITY_TIMEOUT", cls.visibility_timeout, 1, MAX_VISIBILITY_SECONDS
            ),
            max_job_seconds=reader.number(
                "WORKER_MAX_JOB_SECONDS", cls.max_job_seconds, 0, MAX_VISIBILITY_SECONDS, low_open=True
            ),
            shutdown_grace_seconds=reader.number(
                "WORKER_SHUTDOWN_GRACE_SECONDS", cls.shutdown_grace_seconds, 0, 3600
            ),
            wait_time_seconds=reader.integer(
                "WORKER_WAIT_TIME_SECONDS", cls.wait_time_seconds, 0, MAX_WAIT_SECONDS
            ),
            metrics_interval=reader.number("WORKER_METRICS_INTERVAL", cls.metrics_interval, 1, 3600),
            imds_endpoint=imds_endpoint,
            ecs_agent_uri=ecs_agent_uri,
            retry_base_seconds=retry_base,
            retry_max_seconds=reader.number(
                "WORKER_RETRY_MAX_SECONDS", cls.retry_max_seconds, retry_base, MAX_VISIBILITY_SECONDS
            ),
            protection_expires_minutes=reader.integer(
                "WORKER_PROTECTION_EXPIRES_MINUTES", cls.protection_expires_minutes, 1, MAX_PROTECTION_MINUTES
            ),
            log_level=reader.parse(
                "WORKER_LOG_LEVEL", cls.log_level, _log_level, "DEBUG, INFO, WARNING or ERROR"
            ),
            count_api_calls=reader.parse(
                "WORKER_COUNT_API_CALLS", cls.count_api_calls, _boolean, "true or false"
            ),
            command=command,
            # 1..125: 126+ are the shell's "cannot run" codes and 128+N a death by signal N.
            permanent_exit_code=reader.integer("WORKER_PERMANENT_EXIT_CODE", cls.permanent_exit_code, 1, 125),
            kill_grace_seconds=reader.number("WORKER_KILL_GRACE_SECONDS", cls.kill_grace_seconds, 0, 60),
            lifecycle_hook_name=reader.text("WORKER_LIFECYCLE_HOOK_NAME", cls.lifecycle_hook_name),
            launch_hook_name=reader.text("WORKER_LAUNCH_HOOK_NAME", cls.launch_hook_name),
            launch_hook_timeout_seconds=reader.integer(
                "WORKER_LAUNCH_HOOK_TIMEOUT_SECONDS", cls.launch_hook_timeout_seconds, *HOOK_TIMEOUT_RANGE
            ),
            lifecycle_hook_timeout_seconds=reader.integer(
                "WORKER_LIFECYCLE_HOOK_TIMEOUT_SECONDS",
                cls.lifecycle_hook_timeout_seconds,
                *HOOK_TIMEOUT_RANGE,
            ),
            termination_poll_seconds=reader.number(
                "WORKER_TERMINATION_POLL_SECONDS", cls.termination_poll_seconds, 0, 60, low_open=True
            ),
            ecs_metadata_uri=ecs_metadata_uri,
            rollout_check_seconds=reader.number(
                "WORKER_ROLLOUT_CHECK_SECONDS", cls.rollout_check_seconds, 0, MAX_ROLLOUT_CHECK_SECONDS
            ),
        )
        return settings

    @property
    def queues(self) -> tuple[str, ...]:
        """The queues this worker consumes, highest priority first."""
        return self.queue_urls or (self.queue_url,)

    @property
    def hook_timeouts(self) -> dict[str, float]:
        """The heartbeat timeout of each lifecycle hook this worker acts on, by hook name."""
        hooks = {
            self.launch_hook_name: self.launch_hook_timeout_seconds,
            self.lifecycle_hook_name: self.lifecycle_hook_timeout_seconds,
        }
        return {name: float(timeout) for name, timeout in hooks.items() if name}

    @property
    def queues_variable(self) -> str:
        """The variable that names the queues consumed (for error messages)."""
        return "WORKER_QUEUE_URLS" if self.queue_urls else "QUEUE_URL"


class _Reader:
    """Reads one variable at a time so every error names it."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def _raw(self, name: str) -> str | None:
        value = self._env.get(name)
        if value is None or not value.strip():
            return None
        return value.strip()

    def text(self, name: str, default: str | None) -> str:
        raw = self._raw(name)
        if raw is None:
            if default is None:
                raise SettingsError(name, "required but not set")
            return default
        return raw

    def parse(self, name: str, default: T, convert: Callable[[str], T], expected: str) -> T:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            return convert(raw)
        except ValueError:
            raise SettingsError(name, f"{raw!r} is not {expected}") from None

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.parse(name, default, int, "an integer")
        if not low <= value <= high:
            raise SettingsError(name, f"{value} is outside {low}..{high}")
        return value

    def number(self, name: str, default: float, low: float, high: float, *, low_open: bool = False) -> float:
        value = self.parse(name, default, float, "a number")
        too_low = value <= low if low_open else value < low
        if not math.isfinite(value) or too_low or value > high:
            bracket = "(" if low_open else "["
            raise SettingsError(name, f"{value} is outside {bracket}{low:g}, {high:g}]")
        return value


def _is_http_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


_COMMAND_FORMS = (
    'a JSON array of strings (["/opt/app/run", "--fast"]) or a command line (/opt/app/run --fast)'
)


def _command(raw: str) -> tuple[str, ...]:
    """WORKER_COMMAND: a JSON array of strings (exact), or a command line split like a POSIX shell
    would, never run by one. A value that opens like JSON ([ or {) must be a JSON array: read as a
    command line, {"a": 1} would become a program named '{a:' (the mistake is reported instead)."""

    def bad(problem: str) -> SettingsError:
        return SettingsError("WORKER_COMMAND", f"{raw!r} {problem}; expected {_COMMAND_FORMS}")

    if raw.startswith(("[", "{")):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as error:
            raise bad(f"is not valid JSON ({error})") from None
        if not isinstance(parsed, list):
            raise bad(
                f"is a JSON {'object' if isinstance(parsed, dict) else type(parsed).__name__}, not an array"
            )
        for position, arg in enumerate(parsed, start=1):
            if not isinstance(arg, str):
                raise bad(f"element {position} ({arg!r}) is not a string")
        argv = tuple(parsed)
        if not argv:
            raise bad("is an empty JSON array")
    else:
        try:
            argv = tuple(shlex.split(raw))
        except ValueError as error:
            raise bad(f"is not a valid command line ({error})") from None
    if not argv[0]:
        raise bad("the program name is empty")
    return argv


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError(level)
    return level


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError(raw)
