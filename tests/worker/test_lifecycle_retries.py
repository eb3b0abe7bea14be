"""The one rule for the worker's lifecycle calls (launch and termination completions, drain
heartbeats): a throttled or transient failure is tried again with capped exponential backoff and
jitter for as long as the action can still be completed, a permanent answer stops at once.

EC2 Auto Scaling throttles every call of the account from one bucket whose rate AWS does not publish
(https://repost.aws/knowledge-center/autoscaling-api-calls-throttled): a throttle can outlast any
fixed number of retries. The calls go through the loopback proxy to its lifecycle model
(tests/worker/lifecycle_model.py), which answers Throttling while the test says so; time is a fake
clock, advanced by the waits between attempts, so minutes of throttling take a moment."""

from __future__ import annotations

import random
import threading

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.worker.aws_proxy import AwsProxy, Fault
from tests.worker.conftest import REGION, Aws
from worker.lifecycle import (
    COMPLETION_CALLS,
    MAX_HOOK_TIMEOUT_SECONDS,
    PENDING_WAIT,
    RETRY_CAP_SECONDS,
    TERMINATING_WAIT,
    LifecycleActions,
    is_permanent,
    retry_delay,
)
from worker.settings import Settings, SettingsError

LAUNCH = "ready-to-consume"
TERMINATION = "drain-before-terminate"
LAUNCH_TIMEOUT = 600.0  # the template's WorkerBootTimeoutSeconds default
TERMINATION_TIMEOUT = 150.0  # the template's termination hook
# What the worker used to allow: attempts 1, 2, 5, 10 and 20 s apart, then it gave up.
OLD_PATIENCE_SECONDS = 38.0
COMPLETE = "CompleteLifecycleAction"
DESCRIBE = "DescribeAutoScalingInstances"
HEARTBEAT = "RecordLifecycleActionHeartbeat"
# One HTTP request a call: botocore's own retries would sleep for real between them (its
# `max_attempts` counts retries, `total_max_attempts` every attempt).
ONE_ATTEMPT = Config(retries={"total_max_attempts": 1, "mode": "standard"})


class FakeTime:
    """A clock that moves only when the code under test waits (through `FakeStop.wait`)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now


class FakeStop(threading.Event):
    """The `stop` event of a retry loop: its wait returns at once and moves the fake clock on."""

    def __init__(self, time: FakeTime) -> None:
        super().__init__()
        self._time = time

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None and timeout >= 0
        self._time.waits.append(timeout)
        self._time.now += timeout
        return self.is_set()


def _throttle(proxy: AwsProxy, time: FakeTime, until: float, *operations: str) -> Fault:
    """Auto Scaling answers these operations with Throttling (HTTP 400) until fake time `until`."""
    return proxy.fault(
        Fault(
            "autoscaling",
            frozenset(operations),
            status=400,
            error_code="Throttling",
            until=until,
            clock=time.clock,
        )
    )


def _actions(proxy: AwsProxy, instance_id: str, time: FakeTime) -> LifecycleActions:
    autoscaling = boto3.client("autoscaling", endpoint_url=proxy.url, region_name=REGION, config=ONE_ATTEMPT)
    return LifecycleActions(
        autoscaling,
        "fleet",
        lambda: instance_id,
        {LAUNCH: LAUNCH_TIMEOUT, TERMINATION: TERMINATION_TIMEOUT},
        clock=time.clock,
        rng=random.Random(7),
    )


# ----------------------------------------------------------------------------- the rule itself


class _Ceiling(random.Random):
    """Draws the top of every range: the backoff's ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_the_backoff_doubles_from_one_second_up_to_its_cap_with_full_jitter() -> None:
    assert [retry_delay(n, _Ceiling()) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert retry_delay(10_000, _Ceiling()) == RETRY_CAP_SECONDS  # no overflow
    drawn = [retry_delay(8, random.Random(seed)) for seed in range(50)]
    assert all(0 <= delay <= RETRY_CAP_SECONDS for delay in drawn)
    assert len(set(drawn)) == 50, "jittered: workers throttled together do not retry together"
    assert min(drawn) < RETRY_CAP_SECONDS / 4 < RETRY_CAP_SECONDS * 3 / 4 < max(drawn)


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "CompleteLifecycleAction")


def test_only_an_answer_no_retry_can_change_is_permanent() -> None:
    # "No active Lifecycle Action found": completed, abandoned or timed out already
    assert is_permanent(_client_error("ValidationError"))
    for passing in ("Throttling", "ThrottlingException", "ResourceContention", "InternalFailure"):
        assert not is_permanent(_client_error(passing)), passing
    assert not is_permanent(ConnectionError("reset"))


def test_the_hooks_timeouts_are_settings_naming_the_variable() -> None:
    base = {"QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/work"}
    defaults = Settings.from_env(base)
    # Not told, the worker assumes the longest timeout a hook can have: it never gives up too early.
    assert defaults.launch_hook_timeout_seconds == defaults.lifecycle_hook_timeout_seconds == 7200
    assert MAX_HOOK_TIMEOUT_SECONDS == 7200
    told = Settings.from_env(
        {
            **base,
            "WORKER_LAUNCH_HOOK_NAME": LAUNCH,
            "WORKER_LAUNCH_HOOK_TIMEOUT_SECONDS": "900",
            "WORKER_LIFECYCLE_HOOK_NAME": TERMINATION,
            "WORKER_LIFECYCLE_HOOK_TIMEOUT_SECONDS": "150",
        }
    )
    assert told.hook_timeouts == {LAUNCH: 900, TERMINATION: 150}
    assert Settings.from_env({**base, "WORKER_LAUNCH_HOOK_NAME": LAUNCH}).hook_timeouts == {LAUNCH: 7200}
    for variable, bad in (
        ("WORKER_LAUNCH_HOOK_TIMEOUT_SECONDS", "29"),
        ("WORKER_LAUNCH_HOOK_TIMEOUT_SECONDS", "7201"),
        ("WORKER_LIFECYCLE_HOOK_TIMEOUT_SECONDS", "abc"),
    ):
        with pytest.raises(SettingsError) as raised:
            Settings.from_env({**base, variable: bad})
        assert raised.value.variable == variable


# ----------------------------------------------------------------------------- against the proxy


@pytest.mark.slow
def test_a_launch_completion_throttled_for_minutes_goes_through_before_the_hook_times_out(
    aws: Aws, moto_url: str
) -> None:
    # Given an instance in Pending:Wait, and Auto Scaling throttling the worker's describe and
    # completion for 5 minutes: far longer than the 38 s the worker used to try for
    instance_id = aws.ec2_fleet()
    time = FakeTime()
    with AwsProxy(moto_url) as proxy:
        proxy.lifecycle.states[instance_id] = PENDING_WAIT
        _throttle(proxy, time, 300.0, DESCRIBE, COMPLETE)

        # When its worker completes the launch action
        completed = _actions(proxy, instance_id, time).complete_with_retries(
            LAUNCH, PENDING_WAIT, FakeStop(time)
        )

        # Then it keeps trying until the throttling is over, and the instance goes in service
        assert completed, f"gave up after {time.now:.0f} s of throttling"
        assert proxy.lifecycle.states[instance_id] == "InService"
        assert OLD_PATIENCE_SECONDS < 300.0 < time.now < LAUNCH_TIMEOUT
        assert len(proxy.lifecycle.of(COMPLETE, LAUNCH)) == 1, "the describe failed until then"
    # With capped, jittered waits between the attempts
    assert max(time.waits) <= RETRY_CAP_SECONDS
    assert len(set(time.waits)) == len(time.waits)
    assert proxy.calls[f"autoscaling.{DESCRIBE}"] == len(time.waits) + 1


@pytest.mark.slow
def test_a_completion_throttled_for_good_stops_once_the_hook_has_surely_timed_out(
    aws: Aws, moto_url: str
) -> None:
    instance_id = aws.ec2_fleet()
    time = FakeTime()
    with AwsProxy(moto_url) as proxy:
        proxy.lifecycle.states[instance_id] = PENDING_WAIT
        _throttle(proxy, time, float("inf"), DESCRIBE, COMPLETE)

        completed = _actions(proxy, instance_id, time).complete_with_retries(
            LAUNCH, PENDING_WAIT, FakeStop(time)
        )

        # The hook's timeout (counted from the first attempt: the action started earlier) leaves no
        # chance: the worker stops; the group abandons the instance
        assert not completed
        assert proxy.lifecycle.states[instance_id] == PENDING_WAIT
    attempts = proxy.calls[f"autoscaling.{DESCRIBE}"]
    tried_until = sum(time.waits[: attempts - 1])
    assert LAUNCH_TIMEOUT - RETRY_CAP_SECONDS < tried_until < LAUNCH_TIMEOUT
    assert attempts >= LAUNCH_TIMEOUT / RETRY_CAP_SECONDS
    assert len(time.waits) == attempts - 1, "no wait after the last attempt"


@pytest.mark.slow
def test_no_active_lifecycle_action_stops_the_completion_at_once(aws: Aws, moto_url: str) -> None:
    # Given the group still shows Pending:Wait, but the action timed out between the describe and
    # the completion: Auto Scaling refuses it for good
    instance_id = aws.ec2_fleet()
    time = FakeTime()
    with AwsProxy(moto_url) as proxy:
        proxy.lifecycle.states[instance_id] = PENDING_WAIT
        proxy.fault(Fault("autoscaling", frozenset({COMPLETE}), status=400, error_code="ValidationError"))

        completed = _actions(proxy, instance_id, time).complete_with_retries(
            LAUNCH, PENDING_WAIT, FakeStop(time)
        )

    assert not completed
    assert proxy.calls[f"autoscaling.{COMPLETE}"] == 1
    assert time.waits == []


@pytest.mark.slow
def test_a_throttled_drain_heartbeat_is_retried_with_backoff_until_recorded(aws: Aws, moto_url: str) -> None:
    # Given a terminating instance whose heartbeats are throttled for 100 s (the worker used to wait a
    # full 30-s interval after each failure: four in a row let the 150-s timeout lapse)
    instance_id = aws.ec2_fleet()
    time = FakeTime()
    with AwsProxy(moto_url) as proxy:
        proxy.lifecycle.states[instance_id] = TERMINATING_WAIT
        _throttle(proxy, time, 100.0, HEARTBEAT)
        actions = _actions(proxy, instance_id, time)

        recorded = actions.heartbeat_with_retries(TERMINATION, FakeStop(time))

        assert recorded
        assert 100.0 < time.now < 100.0 + RETRY_CAP_SECONDS
        failed = proxy.calls[f"autoscaling.{HEARTBEAT}"] - 1
        assert failed == len(time.waits) >= 5
        assert max(time.waits) <= RETRY_CAP_SECONDS

        # And the heartbeat restarted the hook's timeout: a completion throttled until 200 s (past 150 s
        # from the notice) still goes through, as the action now waits until 250 s at least
        _throttle(proxy, time, 200.0, COMPLETE)
        assert actions.complete_with_retries(TERMINATION, TERMINATING_WAIT, FakeStop(time))
        assert proxy.lifecycle.states[instance_id] == "Terminating:Proceed"


@pytest.mark.slow
def test_heartbeats_and_completion_give_up_once_the_action_has_surely_lapsed(aws: Aws, moto_url: str) -> None:
    # Given heartbeats throttled for good from the notice on: the hook's timeout (DefaultResult
    # CONTINUE) lets the instance go 150 s after the notice at the latest
    instance_id = aws.ec2_fleet()
    time = FakeTime()
    with AwsProxy(moto_url) as proxy:
        proxy.lifecycle.states[instance_id] = TERMINATING_WAIT
        _throttle(proxy, time, float("inf"), HEARTBEAT)
        actions = _actions(proxy, instance_id, time)
        actions.waiting(TERMINATION)  # the notice

        assert not actions.heartbeat_with_retries(TERMINATION, FakeStop(time))
        tried = proxy.calls[f"autoscaling.{HEARTBEAT}"]
        assert TERMINATION_TIMEOUT - RETRY_CAP_SECONDS < sum(time.waits[: tried - 1]) < TERMINATION_TIMEOUT

        # Then the completion after the drain makes no call: nothing waits any more
        time.now = TERMINATION_TIMEOUT
        assert not actions.complete_with_retries(TERMINATION, TERMINATING_WAIT, FakeStop(time))
        assert proxy.calls[f"autoscaling.{DESCRIBE}"] == 0
        assert proxy.lifecycle.of(COMPLETE) == []


@pytest.mark.slow
def test_a_heartbeat_with_no_action_waiting_stops_at_once(aws: Aws, moto_url: str) -> None:
    # A worker restarted on an instance whose action its predecessor completed
    instance_id = aws.ec2_fleet()
    time = FakeTime()
    with AwsProxy(moto_url) as proxy:
        proxy.lifecycle.states[instance_id] = "Terminating:Proceed"
        assert not _actions(proxy, instance_id, time).heartbeat_with_retries(TERMINATION, FakeStop(time))
        assert len(proxy.lifecycle.of(HEARTBEAT)) == 1
        assert time.waits == []


@pytest.mark.slow
def test_a_worker_that_stops_stops_trying(aws: Aws, moto_url: str) -> None:
    # The launch completion of a worker shutting down (LaunchReadiness.stop sets the event)
    instance_id = aws.ec2_fleet()
    time = FakeTime()
    with AwsProxy(moto_url) as proxy:
        proxy.lifecycle.states[instance_id] = PENDING_WAIT
        _throttle(proxy, time, float("inf"), DESCRIBE)
        stop = FakeStop(time)
        stop.set()
        assert not _actions(proxy, instance_id, time).complete_with_retries(LAUNCH, PENDING_WAIT, stop)
        assert proxy.calls[f"autoscaling.{DESCRIBE}"] == 1
        assert len(time.waits) == 1


@pytest.mark.slow
def test_a_completion_makes_the_calls_the_simulator_counts(aws: Aws, moto_url: str) -> None:
    # qas/sim/api_calls.py counts COMPLETION_CALLS for each completion: they are the worker's calls
    instance_id = aws.ec2_fleet()
    time = FakeTime()
    with AwsProxy(moto_url) as proxy:
        proxy.lifecycle.states[instance_id] = PENDING_WAIT
        assert _actions(proxy, instance_id, time).complete_with_retries(LAUNCH, PENDING_WAIT, FakeStop(time))
        sent = [call for call in proxy.sequence if call.startswith("autoscaling.")]
    assert sent == [f"autoscaling.{operation}" for operation in COMPLETION_CALLS]
