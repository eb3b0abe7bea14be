"""`qas doctor stack`'s tail check: a p99 processing time that leaves the SLO almost nothing to wait in
(docs/bound-gaps.md, d1 and d7), read by the tuner's adapter. moto computes no percentile, so the
decision is tested on plain values and the CloudWatch answer comes from botocore's Stubber."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from qas.doctor import stack as doctor
from qas.doctor.findings import Severity

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
STACK = doctor.Stack(
    name="qas-dev",
    created=NOW - timedelta(days=1),
    outputs={"FleetName": "qas-dev-workers"},
    parameters={"LatencySloSeconds": "300", "CapacityLeadSeconds": "270"},
)


@pytest.mark.parametrize(
    ("p99", "slo", "severity", "words"),
    [
        (300.5, 300.0, Severity.NOTE, ("p99 processing time 300 s leaves 0 s", "above 571")),  # d1
        (1257.0, 1260.0, Severity.NOTE, ("leaves 3 s of LatencySloSeconds 1260",)),  # d7
        (58.0, 600.0, Severity.OK, ("leaves 542 s",)),
        (540.0, 600.0, Severity.OK, ("leaves 60 s",)),  # exactly a tenth of the SLO is enough
        (541.0, 600.0, Severity.NOTE, ("leaves 59 s",)),
        (None, 300.0, Severity.NOTE, ("no p99",)),
    ],
)
def test_a_tail_at_the_slo_is_named_with_the_slo_that_would_leave_room(
    p99: float | None, slo: float, severity: Severity, words: tuple[str, ...]
) -> None:
    finding = doctor.tail_finding(p99, slo, 270.0)
    assert finding.severity is severity
    assert all(word in f"{finding.what} {finding.fix}" for word in words)


def test_the_check_reads_the_fleets_p99_over_the_last_hour() -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    window = {
        "Namespace": "QueueAutoscaler",
        "MetricName": "MsgProcessingDuration",
        "Dimensions": [{"Name": "FleetName", "Value": "qas-dev-workers"}],
        "StartTime": NOW - timedelta(hours=1),
        "EndTime": NOW,
        "Period": 3600,
    }
    # The tuner's adapter: the count and mean first, then the percentile (separate calls).
    basic = {"Datapoints": [{"Timestamp": NOW, "SampleCount": 100.0, "Average": 5.0, "Maximum": 400.0}]}
    answer = {"Datapoints": [{"Timestamp": NOW, "ExtendedStatistics": {"p99": 310.0}}]}
    with Stubber(cloudwatch) as stub:
        stub.add_response(
            "get_metric_statistics", basic, {**window, "Statistics": ["Average", "SampleCount", "Maximum"]}
        )
        stub.add_response("get_metric_statistics", answer, {**window, "ExtendedStatistics": ["p99"]})
        finding = doctor.check_tail(cloudwatch, STACK, NOW)
        stub.assert_no_pending_responses()
    assert finding.severity is Severity.NOTE and "310 s leaves 0 s of LatencySloSeconds 300" in finding.what


def test_no_percentile_from_cloudwatch_is_a_note_not_an_alarm() -> None:
    with mock_aws():  # moto answers without ExtendedStatistics, as a source without raw values would
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        cloudwatch.put_metric_data(
            Namespace="QueueAutoscaler",
            MetricData=[
                {
                    "MetricName": "MsgProcessingDuration",
                    "Dimensions": [{"Name": "FleetName", "Value": "qas-dev-workers"}],
                    "Timestamp": NOW - timedelta(minutes=5),
                    "Values": [1.0, 400.0],
                    "Counts": [99.0, 1.0],
                }
            ],
        )
        finding = doctor.check_tail(cloudwatch, STACK, NOW)
    assert finding.severity is Severity.NOTE and "no p99" in finding.what
