"""The publisher's metric: (visible + in-flight) / max(1, running)."""

from __future__ import annotations

import pytest

from queue_autoscaler.scaling.backlog import (
    BacklogSample,
    FleetCapacity,
    QueueCounts,
    backlog_per_instance,
    scale_out_pressure,
)


def test_in_flight_messages_count_and_running_divides() -> None:
    assert backlog_per_instance(visible=12, in_flight=4, running=4) == 4.0


def test_empty_or_booting_fleet_reports_the_whole_backlog() -> None:
    # Metric math would drop this datapoint (division by zero); ours keeps target tracking informed.
    assert backlog_per_instance(visible=30, in_flight=0, running=0) == 30.0
    assert backlog_per_instance(0, 0, 0) == 0.0


def test_negative_counts_are_rejected() -> None:
    with pytest.raises(ValueError):
        backlog_per_instance(-1, 0, 1)
    with pytest.raises(ValueError):
        QueueCounts(visible=0, in_flight=-1)
    with pytest.raises(ValueError):
        FleetCapacity(running=-1, desired=0)


def test_sample_publishes_every_contract_metric() -> None:
    sample = BacklogSample(QueueCounts(visible=9, in_flight=3), FleetCapacity(running=2, desired=3))
    assert sample.queue.backlog == 12
    assert sample.metrics() == {
        "BacklogPerInstance": 6.0,
        "VisibleMessages": 9.0,
        "InFlightMessages": 3.0,
        "RunningCapacity": 2.0,
        "DesiredCapacity": 3.0,
    }


def test_pressure_is_backlog_per_instance_over_the_target_in_force() -> None:
    assert scale_out_pressure(18.0, 12.0) == 1.5
    sample = BacklogSample(
        QueueCounts(visible=9, in_flight=3), FleetCapacity(running=2, desired=3), target=4.0
    )
    assert sample.metrics()["ScaleOutPressure"] == 1.5  # 6 per instance / target 4
    with pytest.raises(ValueError, match="target"):
        scale_out_pressure(1.0, 0.0)
