"""EC2 Auto Scaling lifecycle actions as AWS answers them, for the test proxy (moto never holds an
instance in a wait state and does not implement the lifecycle-action calls).

The model holds the lifecycle state of the instances a test puts in it: DescribeAutoScalingInstances
reports it, CompleteLifecycleAction moves Pending:Wait to InService (CONTINUE) or Terminating
(ABANDON), Warmed:Pending:Wait to Warmed:Stopped (CONTINUE) or Warmed:Terminating (ABANDON), and
Terminating:Wait to Terminating:Proceed, and a completion or heartbeat with no action
waiting is refused as AWS refuses it (ValidationError "No active Lifecycle Action found ...").
Instances it does not hold are left to moto (DescribeAutoScalingInstances) or, for the two
lifecycle calls moto lacks, answered as if an action waited.
"""

from __future__ import annotations

import threading
import urllib.parse
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

HEARTBEAT = "RecordLifecycleActionHeartbeat"
COMPLETE = "CompleteLifecycleAction"
DESCRIBE = "DescribeAutoScalingInstances"
_NAMESPACE = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
_AFTER = {
    ("Pending:Wait", "CONTINUE"): "InService",
    ("Pending:Wait", "ABANDON"): "Terminating",
    ("Terminating:Wait", "CONTINUE"): "Terminating:Proceed",
    ("Terminating:Wait", "ABANDON"): "Terminating:Proceed",
    # Launched into a warm pool (pool state Stopped): stopped once the action is complete.
    ("Warmed:Pending:Wait", "CONTINUE"): "Warmed:Stopped",
    ("Warmed:Pending:Wait", "ABANDON"): "Warmed:Terminating",
}


def parse_form(body: bytes) -> dict[str, str]:
    return {key: values[0] for key, values in urllib.parse.parse_qs(body.decode()).items()}


@dataclass
class LifecycleModel:
    group: str = "fleet"
    states: dict[str, str] = field(default_factory=dict)  # instance id -> lifecycle state
    calls: list[dict[str, str]] = field(default_factory=list)  # the two lifecycle calls, as sent
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handles(self, operation: str, form: dict[str, str]) -> bool:
        if operation in (HEARTBEAT, COMPLETE):
            return True
        with self._lock:
            return operation == DESCRIBE and form.get("InstanceIds.member.1") in self.states

    def answer(self, operation: str, form: dict[str, str]) -> tuple[int, bytes]:
        with self._lock:
            if operation == DESCRIBE:
                return 200, self._describe(form["InstanceIds.member.1"])
            self.calls.append(form)
            instance = form.get("InstanceId", "")
            state = self.states.get(instance)
            if state is not None and not state.endswith(":Wait"):
                return 400, query_error(
                    "ValidationError", f"No active Lifecycle Action found with instance ID {instance}"
                )
            if operation == COMPLETE and state is not None:
                self.states[instance] = _AFTER[(state, form.get("LifecycleActionResult", "CONTINUE"))]
            return 200, _ok(operation)

    def all_calls(self) -> list[dict[str, str]]:
        with self._lock:
            return list(self.calls)

    def of(self, action: str, hook: str | None = None) -> list[dict[str, str]]:
        with self._lock:
            return [
                call
                for call in self.calls
                if call["Action"] == action and (hook is None or call["LifecycleHookName"] == hook)
            ]

    def _describe(self, instance: str) -> bytes:
        member = (
            f"<member><InstanceId>{escape(instance)}</InstanceId><InstanceType>t3.micro</InstanceType>"
            f"<AutoScalingGroupName>{escape(self.group)}</AutoScalingGroupName>"
            "<AvailabilityZone>us-east-1a</AvailabilityZone>"
            f"<LifecycleState>{escape(self.states[instance])}</LifecycleState>"
            "<HealthStatus>HEALTHY</HealthStatus><ProtectedFromScaleIn>false</ProtectedFromScaleIn></member>"
        )
        return (
            f'<{DESCRIBE}Response xmlns="{_NAMESPACE}"><{DESCRIBE}Result><AutoScalingInstances>{member}'
            f"</AutoScalingInstances></{DESCRIBE}Result>"
            f"<ResponseMetadata><RequestId>proxy</RequestId></ResponseMetadata></{DESCRIBE}Response>"
        ).encode()


def _ok(operation: str) -> bytes:
    return (
        f'<{operation}Response xmlns="{_NAMESPACE}"><{operation}Result/>'
        f"<ResponseMetadata><RequestId>proxy</RequestId></ResponseMetadata></{operation}Response>"
    ).encode()


def query_error(code: str, message: str) -> bytes:
    """An Auto Scaling error as the query protocol sends it (the body of an HTTP 400 or 500)."""
    return (
        f'<ErrorResponse xmlns="{_NAMESPACE}"><Error><Type>Sender</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
    ).encode()
