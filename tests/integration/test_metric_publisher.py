"""The metric publisher on moto: both platforms, high resolution, and the bad paths."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from qas.emulator.lambda_context import LocalLambdaContext
from queue_autoscaler.adapters import clients
from queue_autoscaler.adapters.errors import ResourceNotFoundError
from queue_autoscaler.common.settings import ConfigError
from queue_autoscaler.metric_publisher import app
from tests.integration.conftest import (
    ASG_NAME,
    CLUSTER,
    NAMESPACE,
    REGION,
    SERVICE,
    error_records,
    load_event,
    make_asg,
    make_ecs_service,
    make_queue,
    metric_dimensions,
    metric_values,
)

PUBLISHED = {
    "BacklogPerInstance",
    "VisibleMessages",
    "InFlightMessages",
    "RunningCapacity",
    "DesiredCapacity",
}


def fill_queue(url: str, visible: int, in_flight: int) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    for index in range(visible + in_flight):
        sqs.send_message(QueueUrl=url, MessageBody=f'{{"processing_seconds": {index}}}')
    received = 0
    while received < in_flight:
        batch = min(10, in_flight - received)
        received += len(
            sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=batch, VisibilityTimeout=600).get(
                "Messages", []
            )
        )


def set_env(monkeypatch: pytest.MonkeyPatch, platform: str, queue_url: str, **extra: str) -> None:
    env = {
        "QUEUE_URL": queue_url,
        "FLEET_PLATFORM": platform,
        "FLEET_NAME": ASG_NAME if platform == "EC2" else SERVICE,
        "ECS_CLUSTER": CLUSTER if platform == "ECS" else "",
        "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
        **extra,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def record_puts() -> list[dict[str, Any]]:
    """Record the PutMetricData requests the handler makes (they still reach moto)."""
    calls: list[dict[str, Any]] = []

    def _record(params: dict[str, Any], **_: Any) -> None:
        calls.append(params)

    clients.cloudwatch().meta.events.register("provide-client-params.cloudwatch.PutMetricData", _record)
    return calls


def test_ec2_publishes_backlog_per_in_service_instance(monkeypatch, context):
    # Given 5 visible and 3 in-flight messages and an ASG with 2 InService instances
    url = make_queue()
    fill_queue(url, visible=5, in_flight=3)
    make_asg(desired=2)
    set_env(monkeypatch, "EC2", url)
    puts = record_puts()

    result = app.lambda_handler(load_event("metric_publisher"), context)

    # Then one PutMetricData call carries all five metrics, (5 + 3) / 2 = 4 per instance
    assert len(puts) == 1
    assert {d["MetricName"] for d in puts[0]["MetricData"]} == PUBLISHED
    assert {d["StorageResolution"] for d in puts[0]["MetricData"]} == {60}
    assert result["samples"] == [
        {
            "BacklogPerInstance": 4.0,
            "VisibleMessages": 5.0,
            "InFlightMessages": 3.0,
            "RunningCapacity": 2.0,
            "DesiredCapacity": 2.0,
        }
    ]
    for name, value in result["samples"][0].items():
        assert metric_values(name, ASG_NAME) == [value]
    assert metric_dimensions(PUBLISHED) == {
        key: [{"Name": "FleetName", "Value": ASG_NAME}] for key in PUBLISHED
    }


def test_ec2_counts_only_in_service_instances(monkeypatch, context):
    url = make_queue()
    fill_queue(url, visible=6, in_flight=0)
    make_asg(desired=3)
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    instance = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[ASG_NAME])[
        "AutoScalingGroups"
    ][0]["Instances"][0]["InstanceId"]
    autoscaling.enter_standby(
        AutoScalingGroupName=ASG_NAME, InstanceIds=[instance], ShouldDecrementDesiredCapacity=False
    )
    set_env(monkeypatch, "EC2", url)
    states = [
        i["LifecycleState"]
        for i in autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[ASG_NAME])[
            "AutoScalingGroups"
        ][0]["Instances"]
    ]
    # Given a standby instance and its replacement (4 instances, 3 of them InService)
    assert sorted(states) == ["InService", "InService", "InService", "Standby"]

    sample = app.lambda_handler(load_event("metric_publisher"), context)["samples"][0]

    assert sample["RunningCapacity"] == 3.0
    assert sample["BacklogPerInstance"] == 2.0


def test_empty_queue_and_fleet_still_publish_zeros(monkeypatch, context):
    url = make_queue()
    make_asg(desired=0)
    set_env(monkeypatch, "EC2", url)

    app.lambda_handler(load_event("metric_publisher"), context)

    for name in PUBLISHED:
        assert metric_values(name, ASG_NAME) == [0.0], name


def test_ecs_uses_running_and_desired_task_counts(monkeypatch, context):
    url = make_queue()
    fill_queue(url, visible=7, in_flight=2)
    make_ecs_service(desired=3)
    set_env(monkeypatch, "ECS", url)

    sample = app.lambda_handler(load_event("metric_publisher"), context)["samples"][0]

    assert sample == {
        "BacklogPerInstance": 3.0,
        "VisibleMessages": 7.0,
        "InFlightMessages": 2.0,
        "RunningCapacity": 3.0,
        "DesiredCapacity": 3.0,
    }
    assert metric_values("BacklogPerInstance", SERVICE) == [3.0]
    assert metric_dimensions(PUBLISHED) == {
        key: [{"Name": "FleetName", "Value": SERVICE}] for key in PUBLISHED
    }


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_high_resolution_samples_every_interval_with_storage_resolution_1(monkeypatch):
    url = make_queue()
    fill_queue(url, visible=4, in_flight=0)
    make_asg(desired=1)
    set_env(monkeypatch, "EC2", url, HIGH_RESOLUTION="true", SAMPLE_INTERVAL_SECONDS="10")
    puts = record_puts()
    clock = FakeClock()

    samples = app.publish(app.get_settings(), lambda: 70_000, sleep=clock.sleep, clock=clock)

    assert len(samples) == 6
    assert clock.sleeps == [10.0] * 5
    assert len(puts) == 6
    assert all(d["StorageResolution"] == 1 for put in puts for d in put["MetricData"])
    assert sum(metric_values("VisibleMessages", ASG_NAME, "SampleCount")) == 6


def test_high_resolution_stops_before_the_lambda_timeout(monkeypatch):
    url = make_queue()
    make_asg(desired=1)
    set_env(monkeypatch, "EC2", url, HIGH_RESOLUTION="true")
    clock = FakeClock()
    deadline = clock.now + 30  # a 30 s timeout: room for samples at 0, 10 and 20 s only

    samples = app.publish(
        app.get_settings(), lambda: int((deadline - clock.now) * 1000), sleep=clock.sleep, clock=clock
    )

    assert len(samples) == 3
    assert sum(metric_values("BacklogPerInstance", ASG_NAME, "SampleCount")) == 3


def test_high_resolution_is_rejected_on_ecs(monkeypatch, context):
    set_env(monkeypatch, "ECS", make_queue(), HIGH_RESOLUTION="true")

    with pytest.raises(ConfigError, match="HIGH_RESOLUTION"):
        app.lambda_handler(load_event("metric_publisher"), context)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"FLEET_PLATFORM": "K8S"}, "FLEET_PLATFORM"),
        ({"QUEUE_URL": ""}, "QUEUE_URL"),
        ({"FLEET_PLATFORM": "ECS", "ECS_CLUSTER": ""}, "ECS_CLUSTER"),
        ({"SAMPLE_INTERVAL_SECONDS": "0"}, "SAMPLE_INTERVAL_SECONDS"),
    ],
)
def test_bad_configuration_names_the_variable(monkeypatch, context, env, variable):
    set_env(monkeypatch, "EC2", "https://sqs.us-east-1.amazonaws.com/123456789012/work", **env)

    with pytest.raises(ConfigError, match=variable):
        app.lambda_handler(load_event("metric_publisher"), context)


def test_missing_asg_fails_with_one_error_line_and_publishes_nothing(monkeypatch, context, caplog):
    set_env(monkeypatch, "EC2", make_queue())

    with pytest.raises(ResourceNotFoundError, match=ASG_NAME):
        app.lambda_handler(load_event("metric_publisher"), context)

    [record] = error_records(caplog)
    assert "read fleet capacity" in record.getMessage()
    assert boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace=NAMESPACE)["Metrics"] == []


def test_missing_ecs_service_fails(monkeypatch, context, caplog):
    make_ecs_service(desired=1)
    set_env(monkeypatch, "ECS", make_queue(), FLEET_NAME="no-such-service")

    with pytest.raises(ResourceNotFoundError, match="no-such-service"):
        app.lambda_handler(load_event("metric_publisher"), context)
    assert len(error_records(caplog)) == 1


def test_missing_queue_fails(monkeypatch, context, caplog):
    make_asg(desired=1)
    set_env(monkeypatch, "EC2", "https://sqs.us-east-1.amazonaws.com/123456789012/missing")

    with pytest.raises(ClientError):
        app.lambda_handler(load_event("metric_publisher"), context)
    [record] = error_records(caplog)
    assert record.error_code  # type: ignore[attr-defined]


def test_access_denied_on_put_metric_data_fails_the_invocation(monkeypatch, context, caplog):
    url = make_queue()
    make_asg(desired=1)
    set_env(monkeypatch, "EC2", url)
    with Stubber(clients.cloudwatch()) as stub:
        stub.add_client_error("put_metric_data", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(ClientError, match="AccessDenied"):
            app.lambda_handler(load_event("metric_publisher"), context)
        stub.assert_no_pending_responses()
    [record] = error_records(caplog)
    assert record.error_code == "AccessDenied"  # type: ignore[attr-defined]
    assert record.operation == "PutMetricData"  # type: ignore[attr-defined]


def test_throttling_that_outlasts_the_retries_fails_the_invocation(monkeypatch, context, caplog):
    url = make_queue()
    make_asg(desired=1)
    set_env(monkeypatch, "EC2", url)
    # Stubber answers before botocore's retry loop, so this is the error left after the retries.
    with Stubber(clients.sqs()) as stub:
        stub.add_client_error("get_queue_attributes", service_error_code="ThrottlingException")
        with pytest.raises(ClientError, match="ThrottlingException"):
            app.lambda_handler(load_event("metric_publisher"), context)
    assert [r.error_code for r in error_records(caplog)] == ["ThrottlingException"]  # type: ignore[attr-defined]
    assert boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace=NAMESPACE)["Metrics"] == []


def test_clients_use_standard_retry_mode():
    for client in (clients.sqs(), clients.autoscaling(), clients.ecs(), clients.cloudwatch()):
        config: Any = client.meta.config
        assert config.retries["mode"] == "standard"
    assert clients.sqs() is clients.sqs()


def test_local_context_counts_down():
    assert 0 < LocalLambdaContext(timeout_seconds=5).get_remaining_time_in_millis() <= 5000


def test_bad_configuration_fails_the_cold_start_in_lambda(monkeypatch):
    import importlib

    set_env(monkeypatch, "K8S", "https://sqs.us-east-1.amazonaws.com/123456789012/work")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "metric-publisher")
    try:
        with pytest.raises(ConfigError, match="FLEET_PLATFORM"):
            importlib.reload(app)
    finally:
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
        importlib.reload(app)
