"""A loopback proxy in front of the moto server: counts calls, injects faults, answers what moto lacks.

Point a worker at it with AWS_ENDPOINT_URL=proxy.url. Each request is classified by service (the
SigV4 credential scope) and operation (X-Amz-Target for JSON, the /operation/ path for CBOR, the
Action form field for query protocols). A `Fault` matching it can delay it, answer an error
instead of forwarding it (an outage; in the service's own protocol, so that botocore reads the
error's code), or forward it and then drop the answer (the request took effect, the caller never
learns it). moto does not implement CompleteLifecycleAction and
RecordLifecycleActionHeartbeat, nor hold instances in a lifecycle wait state: the proxy's
`lifecycle` model (tests/worker/lifecycle_model.py) answers those calls, and
DescribeAutoScalingInstances for the instances it holds.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from tests.worker.lifecycle_model import LifecycleModel, parse_form, query_error

_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
# Services whose errors are XML (the query protocol): botocore cannot read a JSON error from them.
_QUERY_PROTOCOL = frozenset({"autoscaling"})


@dataclass
class Fault:
    service: str  # SigV4 service name: "sqs", "monitoring" (CloudWatch), "autoscaling"
    operations: frozenset[str] = frozenset()  # empty: every operation of the service
    delay_s: float = 0.0
    status: int | None = None  # answer this HTTP status instead of forwarding
    error_code: str | None = None  # with it: the error's code (default: from the status; 400 if none)
    drop_answer: bool = False  # forward, then close the connection without answering
    every: int = 1  # apply to every n-th matching call...
    offset: int = 0  # ...counted from this one: calls number offset, offset + every, ... (1-based)
    until: float = float("inf")  # clock() after which the fault is over
    clock: Callable[[], float] = time.monotonic  # a test's fake clock, to end a fault in its own time
    seen: int = 0

    def applies(self, service: str, operation: str) -> bool:
        if service != self.service or (self.operations and operation not in self.operations):
            return False
        if self.clock() > self.until:
            return False
        self.seen += 1
        return self.seen % self.every == self.offset % self.every


@dataclass
class AwsProxy:
    upstream: str
    faults: list[Fault] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    lifecycle: LifecycleModel = field(default_factory=LifecycleModel)
    sequence: list[str] = field(default_factory=list)  # every "service.Operation", in arrival order
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def lifecycle_calls(self) -> list[dict[str, str]]:
        """The lifecycle calls (heartbeats, completions) in the order they came."""
        return self.lifecycle.all_calls()

    def fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def __enter__(self) -> Self:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.proxy = self  # type: ignore[attr-defined]
        self._server = server
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def matching(self, service: str, operation: str) -> list[Fault]:
        with self._lock:
            self.calls[f"{service}.{operation}"] += 1
            self.sequence.append(f"{service}.{operation}")
            return [fault for fault in self.faults if fault.applies(service, operation)]


def _operation(headers: Any, path: str, body: bytes) -> str:
    target = headers.get("X-Amz-Target")
    if target:
        return str(target).rsplit(".", 1)[-1]
    if "/operation/" in path:
        return path.rsplit("/operation/", 1)[-1]
    form = urllib.parse.parse_qs(body.decode(errors="replace"))
    return form.get("Action", ["?"])[0]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        self._proxy()

    def do_GET(self) -> None:
        self._proxy()

    def _proxy(self) -> None:
        proxy: AwsProxy = self.server.proxy  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        match = _SCOPE.search(self.headers.get("Authorization", ""))
        service = match.group(1) if match else "?"
        operation = _operation(self.headers, self.path, body)
        faults = proxy.matching(service, operation)
        for fault in faults:
            time.sleep(fault.delay_s)
        if refusal := next((fault for fault in faults if fault.status or fault.error_code), None):
            status = refusal.status or 400
            if service in _QUERY_PROTOCOL:
                self._answer(
                    status,
                    [("Content-Type", "text/xml")],
                    query_error(refusal.error_code or "InternalFailure", "injected by the test proxy"),
                )
                return
            body = _error_body(status, refusal.error_code)
            self._answer(status, [("Content-Type", "application/x-amz-json-1.0")], body)
            return
        if service == "autoscaling" and proxy.lifecycle.handles(operation, form := parse_form(body)):
            status, answer = proxy.lifecycle.answer(operation, form)
            self._answer(status, [("Content-Type", "text/xml")], answer)
            return
        upstream = urllib.parse.urlsplit(proxy.upstream)
        connection = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port, timeout=60)
        try:
            headers = {key: value for key, value in self.headers.items() if key.lower() != "host"}
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            passed = [
                (k, v)
                for k, v in response.getheaders()
                if k.lower() not in ("transfer-encoding", "connection")
            ]
        finally:
            connection.close()
        if any(fault.drop_answer for fault in faults):
            self.close_connection = True
            return  # the request took effect; the caller sees the connection close
        self._answer(response.status, passed, payload)

    def _answer(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _error_body(status: int, code: str | None = None) -> bytes:
    kind = code or ("ServiceUnavailable" if status == 503 else "InternalError")
    return json.dumps({"__type": kind, "message": "injected by the test proxy"}).encode()
