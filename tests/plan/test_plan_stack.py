"""`qas plan --stack`: the real template deployed on a moto server, six hours of seeded CloudWatch
history, read back with read-only calls only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from qas import cli, emulator
from qas.plan import history
from tests.clock import NOW

STACK = "qas-plan"
HOURS = 6
PER_MINUTE = 30
# Per minute: 10 jobs each of 15, 20 and 25 s: mean 20 s, maximum 25 s.
DURATIONS = {"Values": [15.0, 20.0, 25.0], "Counts": [10.0, 10.0, 10.0]}


@pytest.fixture(scope="module")
def deployed() -> Iterator[emulator.DeployedStack]:
    # Frozen for the module: the seeded minutes and `qas plan`'s history window (whole minutes back
    # from its own clock read) must not fall a minute apart.
    with time_machine.travel(NOW, tick=False), emulator.running_server() as server:
        server.reset()
        params = {"WorkerConcurrency": "4", "LatencySloSeconds": "600", "CapacityLeadSeconds": "270"}
        stack = emulator.deploy(server.endpoint, STACK, params, "EC2", materialize=False)
        _seed(server.endpoint, stack)
        yield stack
        server.reset()


def _seed(endpoint: str, stack: emulator.DeployedStack) -> None:
    cloudwatch = emulator.client(endpoint, "cloudwatch")
    queue = stack.outputs["QueueUrl"].rsplit("/", 1)[-1]
    fleet = [{"Name": "FleetName", "Value": stack.outputs["FleetName"]}]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    minutes = [now - timedelta(minutes=m) for m in range(1, HOURS * 60 + 1)]
    for chunk in range(0, len(minutes), 500):
        at = minutes[chunk : chunk + 500]
        cloudwatch.put_metric_data(
            Namespace="AWS/SQS",
            MetricData=[
                {
                    "MetricName": "NumberOfMessagesSent",
                    "Dimensions": [{"Name": "QueueName", "Value": queue}],
                    "Timestamp": t,
                    "Value": float(PER_MINUTE),
                    "Unit": "Count",
                }
                for t in at
            ],
        )
        cloudwatch.put_metric_data(
            Namespace="QueueAutoscaler",
            MetricData=[
                {"MetricName": "MsgProcessingDuration", "Dimensions": fleet, "Timestamp": t}
                | {"Unit": "Seconds", **DURATIONS}
                for t in at
            ],
        )


def _recording(endpoint: str, service: str, calls: list[str]) -> Any:
    client = emulator.client(endpoint, service)
    client.meta.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    return client


@pytest.mark.slow
def test_history_becomes_the_trace_it_recorded_with_read_only_calls(deployed) -> None:
    calls: list[str] = []
    facts = history.describe_stack(_recording(deployed.endpoint, "cloudformation", calls), STACK)
    assert (facts.concurrency, facts.slo_s, facts.boot_s) == (4, 600.0, 90.0)
    past = history.read_history(_recording(deployed.endpoint, "cloudwatch", calls), facts, days=1)
    trace = history.to_trace(past)

    assert set(calls) <= history.READ_ONLY_OPERATIONS, calls
    assert len(trace) == HOURS * 60 * PER_MINUTE
    assert past.durations.mean_s == pytest.approx(20.0)
    assert past.durations.max_s == 25.0
    mean = sum(trace.processing_s) / len(trace)
    assert mean == pytest.approx(20.0, rel=0.05)
    assert trace.duration_s == pytest.approx(HOURS * 3600, rel=0.01)


@pytest.mark.slow
def test_plan_from_a_stack_uses_its_parameters_and_meets_the_slo(deployed, monkeypatch, capsys) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", deployed.endpoint)
    assert cli.main(["plan", "--stack", STACK, "--days", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # 30 messages of 20 s a minute on 4 slots: 2.5 instances busy on average.
    assert data["workload"]["messages"] == HOURS * 60 * PER_MINUTE
    assert data["parameter_overrides"]["WorkerConcurrency"] == "4"
    assert data["parameter_overrides"]["LatencySloSeconds"] == "600"
    assert data["parameter_overrides"]["CapacityLeadSeconds"] == "270"
    assert data["predicted"]["slo_attainment"] >= 0.99
    assert 2.5 <= data["predicted"]["average_instances"] <= 4.0


@pytest.mark.slow
def test_a_stack_without_history_or_that_does_not_exist_is_a_clear_error(
    deployed, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", deployed.endpoint)
    assert cli.main(["plan", "--stack", "no-such-stack"]) == 2
    assert "--stack no-such-stack" in capsys.readouterr().err
    # History older than the seeded six hours is asked for with a window that holds none of it.
    facts = history.describe_stack(emulator.client(deployed.endpoint, "cloudformation"), STACK)
    cloudwatch = emulator.client(deployed.endpoint, "cloudwatch")
    with pytest.raises(ValueError, match="no MsgProcessingDuration"):
        history.read_history(cloudwatch, facts, days=1, now=datetime.now(UTC) - timedelta(days=3))
