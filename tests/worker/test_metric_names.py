"""The worker image carries only `worker/`, so the worker writes its metric names itself: they must be
the ones the tuner, the planner and the dashboard read (`PolicySpec.metrics`)."""

from __future__ import annotations

from queue_autoscaler.scaling.policy_spec import METRICS
from worker.metrics import Snapshot


def test_a_full_snapshot_publishes_exactly_the_specs_worker_metrics() -> None:
    snapshot = Snapshot(processed=3, failed=1, running_jobs=2, running_seconds=40.0)
    snapshot.durations.add(1.5)
    snapshot.latencies.add(2.5)
    names = [datum["MetricName"] for datum in snapshot.metric_data("fleet")]
    assert names == [
        METRICS.processed,
        METRICS.failed,
        METRICS.running_jobs,
        METRICS.running_job_seconds,
        METRICS.processing_duration,
        METRICS.message_latency,
    ]
