"""The worker's pure parts, without a server: settings, backoff, histogram, payload, handler rules."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter

import pytest

from qas.emulator.metadata_stubs import EcsAgentStub, ImdsStub
from worker import handlers
from worker.backoff import heartbeat_visibility, needs_extension, retry_visibility
from worker.histogram import MAX_DISTINCT_VALUES, Histogram, bucket, round_significant
from worker.metrics import Recorder
from worker.protection import EcsTaskProtection, ProtectionState
from worker.settings import Platform, Settings, SettingsError

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/work"


# ----------------------------------------------------------------------------- settings


def test_settings_defaults_match_the_contract():
    settings = Settings.from_env({"QUEUE_URL": QUEUE})
    assert settings == Settings(queue_url=QUEUE)
    assert (settings.concurrency, settings.visibility_timeout, settings.wait_time_seconds) == (1, 60, 20)
    assert (settings.max_job_seconds, settings.shutdown_grace_seconds, settings.metrics_interval) == (
        3600,
        100,
        60,
    )
    assert (settings.platform, settings.fleet_name, settings.metric_namespace) == (
        Platform.LOCAL,
        "local",
        "QueueAutoscaler",
    )
    assert settings.handler == "worker.handlers:simulated_work"
    assert settings.imds_endpoint == "http://169.254.169.254"


def test_settings_read_every_variable():
    settings = Settings.from_env(
        {
            "QUEUE_URL": QUEUE,
            "WORKER_CONCURRENCY": "16",
            "WORKER_PLATFORM": "ecs",
            "ECS_AGENT_URI": "http://169.254.170.2/v3/abc/",
            "FLEET_NAME": "svc",
            "WORKER_VISIBILITY_TIMEOUT": "120",
            "WORKER_MAX_JOB_SECONDS": "7200.5",
            "WORKER_SHUTDOWN_GRACE_SECONDS": "0",
            "WORKER_WAIT_TIME_SECONDS": "0",
            "WORKER_RETRY_BASE_SECONDS": "5",
            "WORKER_RETRY_MAX_SECONDS": "60",
            "WORKER_COUNT_API_CALLS": "TRUE",
        }
    )
    assert settings.concurrency == 16
    assert settings.platform is Platform.ECS
    assert settings.ecs_agent_uri == "http://169.254.170.2/v3/abc"
    assert (settings.visibility_timeout, settings.max_job_seconds, settings.shutdown_grace_seconds) == (
        120,
        7200.5,
        0,
    )
    assert (settings.wait_time_seconds, settings.retry_base_seconds, settings.retry_max_seconds) == (0, 5, 60)
    assert settings.count_api_calls is True


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "QUEUE_URL"),
        ({"QUEUE_URL": "work"}, "QUEUE_URL"),
        ({"WORKER_CONCURRENCY": "0"}, "WORKER_CONCURRENCY"),
        ({"WORKER_CONCURRENCY": "two"}, "WORKER_CONCURRENCY"),
        ({"WORKER_HANDLER": "no_colon"}, "WORKER_HANDLER"),
        ({"WORKER_PLATFORM": "K8S"}, "WORKER_PLATFORM"),
        ({"WORKER_PLATFORM": "ECS"}, "ECS_AGENT_URI"),
        ({"METRIC_NAMESPACE": "AWS/SQS"}, "METRIC_NAMESPACE"),
        ({"WORKER_VISIBILITY_TIMEOUT": "43201"}, "WORKER_VISIBILITY_TIMEOUT"),
        ({"WORKER_MAX_JOB_SECONDS": "0"}, "WORKER_MAX_JOB_SECONDS"),
        ({"WORKER_MAX_JOB_SECONDS": "nan"}, "WORKER_MAX_JOB_SECONDS"),
        ({"WORKER_SHUTDOWN_GRACE_SECONDS": "-1"}, "WORKER_SHUTDOWN_GRACE_SECONDS"),
        ({"WORKER_WAIT_TIME_SECONDS": "21"}, "WORKER_WAIT_TIME_SECONDS"),
        ({"WORKER_METRICS_INTERVAL": "0.5"}, "WORKER_METRICS_INTERVAL"),
        ({"WORKER_IMDS_ENDPOINT": "169.254.169.254"}, "WORKER_IMDS_ENDPOINT"),
        ({"WORKER_RETRY_BASE_SECONDS": "10", "WORKER_RETRY_MAX_SECONDS": "5"}, "WORKER_RETRY_MAX_SECONDS"),
        ({"WORKER_PROTECTION_EXPIRES_MINUTES": "2881"}, "WORKER_PROTECTION_EXPIRES_MINUTES"),
        ({"WORKER_LOG_LEVEL": "LOUD"}, "WORKER_LOG_LEVEL"),
        ({"WORKER_COUNT_API_CALLS": "maybe"}, "WORKER_COUNT_API_CALLS"),
    ],
)
def test_a_bad_setting_is_named(env, variable):
    full = {"QUEUE_URL": QUEUE, **env} if "QUEUE_URL" not in env and env else env
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(full)
    assert raised.value.variable == variable
    assert variable in str(raised.value)


# ----------------------------------------------------------------------------- backoff


def test_retry_backoff_doubles_with_the_receive_count_up_to_the_cap():
    assert [retry_visibility(n, 10, 900) for n in range(1, 9)] == [10, 20, 40, 80, 160, 320, 640, 900]
    assert retry_visibility(0, 10, 900) == 10  # a missing count counts as the first receive
    assert retry_visibility(10_000, 10, 900) == 900  # no overflow
    assert retry_visibility(3, 0, 900) == 0
    assert retry_visibility(40, 10, 50_000) == 43_200  # SQS's maximum visibility


def test_heartbeat_extends_by_the_timeout_but_never_past_12_hours_from_receive():
    assert heartbeat_visibility(60, 10) == 60
    assert heartbeat_visibility(60, 43_200 - 5 - 30) == 30
    assert heartbeat_visibility(60, 43_200) == 0
    assert needs_extension(45, 60) and needs_extension(-1, 60)
    assert not needs_extension(46, 60)


# ----------------------------------------------------------------------------- histogram


def test_round_significant():
    assert round_significant(0.0123456, 3) == 0.0123
    assert round_significant(12345, 2) == 12000
    assert round_significant(0, 3) == 0
    assert round_significant(-1, 3) == 0
    assert round_significant(float("inf"), 3) == 0


def test_bucketing_keeps_every_count_within_150_distinct_values():
    # 10,000 durations spread over 6 decades: far more than 150 distinct values at 3 digits.
    values = Counter({round_significant(0.001 * 1.0015**i, 3): 1 for i in range(10_000)})
    assert len(values) > MAX_DISTINCT_VALUES
    merged = bucket(values)
    assert len(merged) <= MAX_DISTINCT_VALUES
    assert sum(merged.values()) == sum(values.values())
    # Coarsening stays within one significant digit of every value.
    assert min(merged) == pytest.approx(min(values), rel=0.5)
    assert max(merged) == pytest.approx(max(values), rel=0.5)


def test_bucketing_is_exact_when_values_fit():
    values = Counter({1.5: 3, 2.25: 1, 10.0: 2})
    assert bucket(values) == {1.5: 3, 2.25: 1, 10.0: 2}


def test_bucketing_folds_pathological_spreads():
    values = Counter({10.0**exponent: 1 for exponent in range(-100, 100)})
    merged = bucket(values, max_distinct=150)
    assert len(merged) == 150
    assert sum(merged.values()) == 200


def test_histogram_values_and_counts_are_parallel_and_sorted():
    histogram = Histogram()
    for value in (0.51234, 0.5123, 2.0, 2.0, 0.0):
        histogram.add(value)
    assert len(histogram) == 5
    assert histogram.values_and_counts() == ([0.0, 0.512, 2.0], [1.0, 2.0, 2.0])


# ----------------------------------------------------------------------------- metrics payload


def test_one_put_holds_all_four_metrics_with_only_the_fleet_dimension():
    recorder = Recorder()
    for duration in (1.0, 1.0, 2.5):
        recorder.processed(duration, latency_s=duration + 10)
    recorder.failed()
    snapshot = recorder.take()
    data = {datum["MetricName"]: datum for datum in snapshot.metric_data("fleet")}
    assert set(data) == {"MsgProcessingDuration", "MessageLatency", "MessagesProcessed", "MessagesFailed"}
    assert all(datum["Dimensions"] == [{"Name": "FleetName", "Value": "fleet"}] for datum in data.values())
    assert (data["MsgProcessingDuration"]["Values"], data["MsgProcessingDuration"]["Counts"]) == (
        [1.0, 2.5],
        [2.0, 1.0],
    )
    assert data["MessageLatency"]["Values"] == [11.0, 12.5]
    assert data["MsgProcessingDuration"]["Unit"] == "Seconds"
    assert (data["MessagesProcessed"]["Value"], data["MessagesFailed"]["Value"]) == (3, 1)
    assert recorder.take().is_empty()


def test_a_snapshot_put_back_after_a_failed_flush_is_not_lost():
    recorder = Recorder()
    recorder.processed(1.0, None)
    snapshot = recorder.take()
    recorder.processed(2.0, None)
    recorder.put_back(snapshot)
    merged = recorder.take()
    assert merged.processed == 2
    assert merged.durations.values_and_counts() == ([1.0, 2.0], [1.0, 1.0])
    assert len(merged.latencies) == 0


# ----------------------------------------------------------------------------- handler rules


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"processing_seconds": "1"},
        {"processing_seconds": True},
        {"processing_seconds": -0.1},
        {"processing_seconds": float("nan")},
    ],
)
def test_invalid_processing_seconds_is_a_permanent_error(body):
    with pytest.raises(handlers.PermanentError):
        handlers.simulated_work(body)


def test_simulated_work_accepts_integers_and_zero():
    assert handlers.processing_seconds({"processing_seconds": 3}) == 3.0
    handlers.simulated_work({"processing_seconds": 0})


def test_a_cancelled_job_stops_waiting():
    import threading

    event = threading.Event()
    event.set()
    handlers.bind_cancel_event(event)
    try:
        assert handlers.cancelled()
        with pytest.raises(handlers.JobCancelled):
            handlers.wait(3600)
    finally:
        handlers.bind_cancel_event(None)
    assert not handlers.cancelled()


# ----------------------------------------------------------------------------- stubs and protection


def test_imds_stub_requires_an_imdsv2_token():
    with ImdsStub("i-0abc") as imds:
        plain = urllib.request.Request(f"{imds.url}/latest/meta-data/instance-id")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(plain, timeout=5)
        assert refused.value.code == 401
        token_request = urllib.request.Request(
            f"{imds.url}/latest/api/token",
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
        )
        token = urllib.request.urlopen(token_request, timeout=5).read().decode()
        with_token = urllib.request.Request(plain.full_url, headers={"X-aws-ec2-metadata-token": token})
        assert urllib.request.urlopen(with_token, timeout=5).read().decode() == "i-0abc"
        assert imds.instance_id_lookups == 1


def test_ecs_protection_only_on_transitions_and_renewed_before_expiry():
    with EcsAgentStub() as agent:
        state = ProtectionState(EcsTaskProtection(agent.url, expires_minutes=1))
        state.busy()
        state.busy()  # still busy, not yet due for renewal: no call
        state.idle()
        state.idle()  # already off: no call
        assert [(c.enabled, c.expires_in_minutes) for c in agent.changes] == [(True, 1), (False, None)]
        answer = json.loads(urllib.request.urlopen(f"{agent.url}/task-protection/v1/state", timeout=5).read())
        assert answer["protection"]["ProtectionEnabled"] is False


def test_a_failed_protection_call_is_retried_at_the_next_transition():
    class Flaky:
        def __init__(self) -> None:
            self.calls: list[bool] = []

        def set(self, enabled: bool) -> None:
            self.calls.append(enabled)
            if len(self.calls) == 1:
                raise OSError("agent not ready")

        def refresh_after(self) -> float | None:
            return None

    flaky = Flaky()
    state = ProtectionState(flaky)
    state.busy()
    assert not state.enabled
    state.busy()
    assert state.enabled
    assert flaky.calls == [True, True]
