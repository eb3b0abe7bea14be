"""The publisher's ScaleOutPressure and ScaleInPressure, against the target in force read from the policy."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botocore.stub import Stubber

from queue_autoscaler.adapters import clients
from queue_autoscaler.metric_publisher import app
from tests.integration.conftest import (
    ASG_NAME,
    POLICY,
    SERVICE,
    error_records,
    load_event,
    make_asg,
    make_asg_policy,
    make_ecs_policy,
    make_ecs_service,
    make_queue,
    metric_dimensions,
    metric_values,
)
from tests.integration.test_metric_publisher import PUBLISHED, FakeClock, fill_queue, record_puts, set_env


def record_calls(client: Any, operation: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    client.meta.events.register(
        f"provide-client-params.{client.meta.service_model.endpoint_prefix}.{operation}",
        lambda params, **_: calls.append(params),
    )
    return calls


def warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING and r.name == app.logger.name]


def test_ec2_publishes_pressure_against_the_target_in_force(monkeypatch, context):
    # Given 8 messages on 2 InService instances (4 per instance) and a policy whose target is 2.5
    url = make_queue()
    fill_queue(url, visible=5, in_flight=3)
    make_asg(desired=2)
    make_asg_policy(target=2.5)
    set_env(monkeypatch, "EC2", url, SCALING_POLICY_NAME=POLICY)
    describes = record_calls(clients.autoscaling(), "DescribePolicies")

    sample = app.lambda_handler(load_event("metric_publisher"), context)["samples"][0]

    # Then ScaleOutPressure = 4 / 2.5 = 1.6, published with the other five under FleetName only
    assert sample["ScaleOutPressure"] == 1.6
    assert metric_values("ScaleOutPressure", ASG_NAME, "Maximum") == [1.6]
    assert metric_dimensions(PUBLISHED | {"ScaleOutPressure"}) == {
        name: [{"Name": "FleetName", "Value": ASG_NAME}] for name in PUBLISHED | {"ScaleOutPressure"}
    }
    assert describes == [{"AutoScalingGroupName": ASG_NAME, "PolicyNames": [POLICY]}]


def test_ec2_publishes_the_scale_in_pressure_per_running_instance(monkeypatch, context):
    # Given 1 message in flight on 4 InService instances, all of them asked for, and a target of 2.5
    url = make_queue()
    fill_queue(url, visible=0, in_flight=1)
    make_asg(desired=4)
    make_asg_policy(target=2.5)
    set_env(monkeypatch, "EC2", url, SCALING_POLICY_NAME=POLICY)

    sample = app.lambda_handler(load_event("metric_publisher"), context)["samples"][0]

    # Then 1 / (4 x 2.5) = 0.1 is below one instance's share, so the floor 1 / 4 is published: the
    # scale-in lane's steps may then keep one instance, never none (scaling.scale_in_lane)
    assert sample["ScaleInPressure"] == 0.25
    assert metric_values("ScaleInPressure", ASG_NAME, "Maximum") == [0.25]
    assert metric_dimensions({"ScaleInPressure"}) == {
        "ScaleInPressure": [{"Name": "FleetName", "Value": ASG_NAME}]
    }


def test_ecs_reads_its_own_policy_among_others(monkeypatch, context):
    url = make_queue()
    fill_queue(url, visible=9, in_flight=0)
    make_ecs_service(desired=3)
    make_ecs_policy(target=2.0)  # next to "some-other-policy" with target 999
    set_env(monkeypatch, "ECS", url, SCALING_POLICY_NAME=POLICY)

    sample = app.lambda_handler(load_event("metric_publisher"), context)["samples"][0]

    assert sample["BacklogPerInstance"] == 3.0
    assert sample["ScaleOutPressure"] == 1.5
    assert metric_values("ScaleOutPressure", SERVICE, "Maximum") == [1.5]


def test_high_resolution_publishes_pressure_every_sample_from_one_policy_read(monkeypatch):
    url = make_queue()
    fill_queue(url, visible=6, in_flight=0)
    make_asg(desired=1)
    make_asg_policy(target=4.0)
    set_env(monkeypatch, "EC2", url, HIGH_RESOLUTION="true", SCALING_POLICY_NAME=POLICY)
    describes = record_calls(clients.autoscaling(), "DescribePolicies")
    puts = record_puts()
    clock = FakeClock()

    samples = app.publish(app.get_settings(), lambda: 70_000, sleep=clock.sleep, clock=clock)

    assert [s.metrics()["ScaleOutPressure"] for s in samples] == [1.5] * 6
    assert all("ScaleOutPressure" in {d["MetricName"] for d in put["MetricData"]} for put in puts)
    assert all(d["StorageResolution"] == 1 for put in puts for d in put["MetricData"])
    assert len(describes) == 1


def test_missing_policy_costs_only_the_pressure(monkeypatch, context, caplog):
    # Given a policy name the group does not have
    url = make_queue()
    fill_queue(url, visible=4, in_flight=0)
    make_asg(desired=1)
    set_env(monkeypatch, "EC2", url, SCALING_POLICY_NAME="no-such-policy")

    sample = app.lambda_handler(load_event("metric_publisher"), context)["samples"][0]

    # Then the five scaling metrics are published as always, with a warning and no error
    assert set(sample) == PUBLISHED
    assert metric_values("BacklogPerInstance", ASG_NAME) == [4.0]
    assert metric_values("ScaleOutPressure", ASG_NAME) == []
    [warning] = warnings(caplog)
    assert "ScaleOutPressure not published" in warning.getMessage()
    assert "no-such-policy" in warning.error_message  # type: ignore[attr-defined]
    assert error_records(caplog) == []


def test_access_denied_on_the_policy_read_costs_only_the_pressure(monkeypatch, context, caplog):
    url = make_queue()
    fill_queue(url, visible=2, in_flight=0)
    make_ecs_service(desired=1)
    set_env(monkeypatch, "ECS", url, SCALING_POLICY_NAME=POLICY)
    with Stubber(clients.application_autoscaling()) as stub:
        stub.add_client_error("describe_scaling_policies", "AccessDeniedException", http_status_code=400)
        sample = app.lambda_handler(load_event("metric_publisher"), context)["samples"][0]
        stub.assert_no_pending_responses()

    assert sample == {
        "BacklogPerInstance": 2.0,
        "VisibleMessages": 2.0,
        "InFlightMessages": 0.0,
        "RunningCapacity": 1.0,
        "DesiredCapacity": 1.0,
    }
    [warning] = warnings(caplog)
    assert warning.error_code == "AccessDeniedException"  # type: ignore[attr-defined]
    assert "AccessDeniedException" in warning.error_message  # type: ignore[attr-defined]


def test_without_a_policy_name_nothing_is_read(monkeypatch, context):
    url = make_queue()
    make_asg(desired=0)
    set_env(monkeypatch, "EC2", url)
    describes = record_calls(clients.autoscaling(), "DescribePolicies")

    sample = app.lambda_handler(load_event("metric_publisher"), context)["samples"][0]

    assert set(sample) == PUBLISHED
    assert describes == []
