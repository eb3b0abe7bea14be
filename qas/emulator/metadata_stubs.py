"""Loopback stubs of the two host endpoints a worker calls for scale-in protection.

* `ImdsStub`: the EC2 instance metadata service, IMDSv2 only (PUT /latest/api/token, then
  GET /latest/meta-data/instance-id with the token). Point a worker at it with
  `WORKER_IMDS_ENDPOINT=stub.url`; the worker then calls SetInstanceProtection on the (moto) ASG.
  It also serves the two termination notices: `spot/instance-action` (404 until
  `stub.interrupt_spot()`) and `autoscaling/target-lifecycle-state` ("InService" until
  `stub.lifecycle_state = "Terminated"`), and counts the reads of each.
* `EcsAgentStub`: the ECS agent's task-protection endpoint (PUT/GET
  $ECS_AGENT_URI/task-protection/v1/state), which moto does not emulate. Point a worker at it
  with `ECS_AGENT_URI=stub.url`; it records every change, so a test or the demo can read whether
  the task is protected and when it changed. It also serves the task metadata endpoint v4's
  `${ECS_CONTAINER_METADATA_URI_V4}/task` (Cluster, TaskARN, Family, Revision) at
  `ECS_CONTAINER_METADATA_URI_V4=stub.metadata_uri`.

Both listen on 127.0.0.1, port 0 (a free port), in a daemon thread; use them as context managers
or call `start()` (returns the base URL) and `stop()`. One stub per emulated instance or task::

    with ImdsStub(instance_id) as imds, EcsAgentStub() as agent:
        env = {"WORKER_IMDS_ENDPOINT": imds.url, "ECS_AGENT_URI": agent.url}
        ...
        agent.protection_enabled  # current state
        agent.changes             # [ProtectionChange(enabled, expires_in_minutes, at), ...]
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self

_TOKEN_PATH = "/latest/api/token"  # noqa: S105 - a URL path, not a secret
_INSTANCE_ID_PATH = "/latest/meta-data/instance-id"
_SPOT_PATH = "/latest/meta-data/spot/instance-action"
_LIFECYCLE_PATH = "/latest/meta-data/autoscaling/target-lifecycle-state"
_PROTECTION_PATH = "/task-protection/v1/state"
_METADATA_PREFIX = "/v4"


class _Stub:
    """A ThreadingHTTPServer on 127.0.0.1:0 whose handler calls back into the stub."""

    _handler_class: ClassVar[type[BaseHTTPRequestHandler]]

    def __init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("stub not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        """Listen on a free loopback port; returns the base URL."""
        if self._server is None:
            server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class)
            server.daemon_threads = True
            server.stub = self  # type: ignore[attr-defined]
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever, args=(0.05,), name=type(self).__name__, daemon=True
            )
            self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _QuietHandler(BaseHTTPRequestHandler):
    server_version = "metadata-stub"

    def log_message(self, format: str, *args: Any) -> None:
        return None  # keep test and demo output clean

    def _reply(self, status: int, body: str, content_type: str = "text/plain") -> None:
        payload = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


# ----------------------------------------------------------------------------- IMDSv2


class _ImdsHandler(_QuietHandler):
    def do_PUT(self) -> None:
        stub: ImdsStub = self.server.stub  # type: ignore[attr-defined]
        self._body()
        if self.path != _TOKEN_PATH:
            self._reply(404, "not found")
            return
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if ttl is None or not ttl.isdigit() or not 1 <= int(ttl) <= 21_600:
            self._reply(400, "missing or invalid X-aws-ec2-metadata-token-ttl-seconds")
            return
        self._reply(200, stub.issue_token())

    def do_GET(self) -> None:
        stub: ImdsStub = self.server.stub  # type: ignore[attr-defined]
        token = self.headers.get("X-aws-ec2-metadata-token")
        if not stub.token_valid(token):
            # IMDSv2 only, as on instances launched with HttpTokens=required.
            self._reply(401, "unauthorized")
            return
        if self.path == _INSTANCE_ID_PATH:
            stub.record_lookup()
            self._reply(200, stub.instance_id)
            return
        answer = stub.notice(self.path)
        if answer is None:
            self._reply(404, "not found")
            return
        self._reply(200, answer, "application/json" if self.path == _SPOT_PATH else "text/plain")


class ImdsStub(_Stub):
    """IMDSv2 for one instance: answers its instance id to token-bearing requests only."""

    _handler_class = _ImdsHandler

    def __init__(self, instance_id: str) -> None:
        super().__init__()
        self.instance_id = instance_id
        self._tokens: set[str] = set()
        self.instance_id_lookups = 0
        self.lifecycle_state = "InService"
        self.spot_action: dict[str, str] | None = None
        self.notice_reads: dict[str, int] = {"spot": 0, "lifecycle": 0}

    def interrupt_spot(self, action: str = "terminate", seconds_ahead: int = 120) -> None:
        """Publish a Spot interruption notice, as EC2 does about two minutes ahead."""
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds_ahead))
        with self._lock:
            self.spot_action = {"action": action, "time": when}

    def notice(self, path: str) -> str | None:
        """The body of a termination-notice item, or None (404)."""
        with self._lock:
            if path == _SPOT_PATH:
                self.notice_reads["spot"] += 1
                return None if self.spot_action is None else json.dumps(self.spot_action)
            if path == _LIFECYCLE_PATH:
                self.notice_reads["lifecycle"] += 1
                return self.lifecycle_state
        return None

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens.add(token)
        return token

    def token_valid(self, token: str | None) -> bool:
        with self._lock:
            return token is not None and token in self._tokens

    def record_lookup(self) -> None:
        with self._lock:
            self.instance_id_lookups += 1


# ----------------------------------------------------------------------------- ECS agent


@dataclass(frozen=True)
class ProtectionChange:
    enabled: bool
    expires_in_minutes: int | None
    at: float  # time.time() when the stub received it


class _EcsAgentHandler(_QuietHandler):
    def do_PUT(self) -> None:
        stub: EcsAgentStub = self.server.stub  # type: ignore[attr-defined]
        if self.path != _PROTECTION_PATH:
            self._reply(404, "not found")
            return
        try:
            request = json.loads(self._body())
            enabled = request["ProtectionEnabled"]
            expires = request.get("ExpiresInMinutes")
            if not isinstance(enabled, bool) or (expires is not None and not 1 <= int(expires) <= 2880):
                raise ValueError(request)
        except (ValueError, KeyError, TypeError):
            self._reply(400, json.dumps({"error": {"Code": "InvalidParameterException"}}), "application/json")
            return
        self._reply(200, json.dumps(stub.record(enabled, expires)), "application/json")

    def do_GET(self) -> None:
        stub: EcsAgentStub = self.server.stub  # type: ignore[attr-defined]
        if self.path == f"{_METADATA_PREFIX}/task":
            self._reply(200, json.dumps(stub.task_metadata()), "application/json")
            return
        if self.path != _PROTECTION_PATH:
            self._reply(404, "not found")
            return
        self._reply(200, json.dumps(stub.state()), "application/json")


class EcsAgentStub(_Stub):
    """The task-protection endpoint of one task's ECS agent; records every change."""

    _handler_class = _EcsAgentHandler

    def __init__(
        self,
        task_arn: str = "arn:aws:ecs:us-east-1:123456789012:task/local/stub",
        *,
        cluster: str = "local",
        family: str = "worker",
        revision: int = 1,
    ) -> None:
        super().__init__()
        self.task_arn = task_arn
        self.cluster = cluster
        self.family = family
        self.revision = revision
        self.metadata_reads = 0
        self.changes: list[ProtectionChange] = []

    @property
    def metadata_uri(self) -> str:
        """What ECS puts in ECS_CONTAINER_METADATA_URI_V4 (the stub answers `<uri>/task`)."""
        return f"{self.url}{_METADATA_PREFIX}"

    def task_metadata(self) -> dict[str, Any]:
        """The task-level fields of `${ECS_CONTAINER_METADATA_URI_V4}/task` a worker reads."""
        with self._lock:
            self.metadata_reads += 1
        return {
            "Cluster": self.cluster,
            "TaskARN": self.task_arn,
            "Family": self.family,
            "Revision": str(self.revision),
            "DesiredStatus": "RUNNING",
            "KnownStatus": "RUNNING",
        }

    @property
    def protection_enabled(self) -> bool:
        with self._lock:
            return bool(self.changes) and self.changes[-1].enabled

    def record(self, enabled: bool, expires_in_minutes: int | None) -> dict[str, Any]:
        with self._lock:
            self.changes.append(ProtectionChange(enabled, expires_in_minutes, time.time()))
        return self.state()

    def state(self) -> dict[str, Any]:
        """The agent's answer: {"protection": {...}} (the real agent adds "failure" on refusal)."""
        with self._lock:
            last = self.changes[-1] if self.changes else None
        expiration = None
        if last is not None and last.enabled and last.expires_in_minutes is not None:
            expiration = time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(last.at + 60 * last.expires_in_minutes)
            )
        return {
            "protection": {
                "ExpirationDate": expiration,
                "ProtectionEnabled": bool(last and last.enabled),
                "TaskArn": self.task_arn,
            }
        }
