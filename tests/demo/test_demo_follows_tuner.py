"""A target change made by the real tuner reaches the demo's model, table, chart data and summary.

The tuner once wrote 41.4 and read it back, yet the demo kept 39 everywhere: the demo's policy
reader cached its first DescribePolicies. Here the tuner first keeps the target (no data), then,
with measured durations seeded in the emulated CloudWatch, changes it: the next demo minute must
show the new target in all four places.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from qas import emulator
from qas.demo.chart import chart_data
from qas.demo.config import PROFILES, DemoConfig
from qas.demo.procs import ProcessRegistry
from qas.demo.runner import DemoRun
from qas.demo.stack import deploy
from qas.demo.ui import Console
from qas.model.control_plane import Platform
from queue_autoscaler.adapters.fleet import AsgTargetPolicy, EcsTargetPolicy, TargetPolicy

# Twice the quick profile's declared mean (1 s): the tuner's formula then asks for a lower target.
MEASURED_S = 2.0
SAMPLES = 40  # above the template's MIN_SAMPLES (30)


def _policy(platform: Platform, endpoint: str, out: Mapping[str, str]) -> TargetPolicy:
    """A fresh reader of the deployed policy (the adapter caches one read per object)."""
    if platform is Platform.EC2:
        return AsgTargetPolicy(
            out["FleetName"], out["ScalingPolicyName"], client=emulator.client(endpoint, "autoscaling")
        )
    return EcsTargetPolicy(
        out["ClusterName"],
        out["FleetName"],
        out["ScalingPolicyName"],
        client=emulator.client(endpoint, "application-autoscaling"),
    )


@pytest.mark.slow
@pytest.mark.parametrize("platform", [Platform.EC2, Platform.ECS])
def test_a_target_change_by_the_tuner_shows_in_model_table_chart_and_summary(platform, tmp_path):
    # One demo minute of the quick profile (idle): no load, so no workers; the tuner every minute.
    cfg = DemoConfig(
        platform=platform,
        profile=PROFILES["quick"],
        seconds_per_minute=2.0,
        slo_seconds=10.0,
        duration_minutes=1,
        tuner_every_minutes=1,
        report_dir=str(tmp_path),
    )
    out = io.StringIO()
    registry = ProcessRegistry()
    try:
        with deploy(cfg) as stack:
            run = DemoRun(cfg, stack, registry, Console(out, cfg.seconds_per_minute))
            initial = run.model.target
            run.step(0)  # the tuner keeps the target: no processing-duration data yet
            assert run.model.target == initial
            assert "keep target" in out.getvalue()

            emulator.client(stack.endpoint_url, "cloudwatch").put_metric_data(
                Namespace=stack.namespace,
                MetricData=[
                    {
                        "MetricName": "MsgProcessingDuration",
                        "Dimensions": [{"Name": "FleetName", "Value": stack.outputs["FleetName"]}],
                        # Flushed a little earlier, as a worker does: moto compares whole seconds.
                        "Timestamp": datetime.now(UTC) - timedelta(seconds=5),
                        "Values": [MEASURED_S],
                        "Counts": [float(SAMPLES)],
                        "Unit": "Seconds",
                    }
                ],
            )
            run.step(1)  # the tuner updates the policy; the demo must follow this same minute
            in_policy = _policy(platform, stack.endpoint_url, stack.outputs).current_target()
            summary = run.summary(2, 0.0)
            run.close()
    finally:
        registry.kill_all()

    printed = out.getvalue()
    assert "update target" in printed, printed
    assert in_policy < initial  # longer jobs: fewer messages per instance
    # The model (whose alarms decide capacity) follows the policy.
    assert run.model.target == in_policy
    # The progress table: minute 1's row shows the new target.
    table_rows = [line for line in printed.splitlines() if line.startswith("[min   1.0]  drain")]
    assert table_rows and f"{in_policy:.3g}" in table_rows[-1].split(), printed
    # The chart's data and summary.json.
    chart = chart_data(run.state.rows, run.state.actions, cfg.slo_seconds, cfg.seconds_per_minute)
    assert chart.per_instance["target"] == [initial, in_policy]
    assert [row["target"] for row in summary["timeline"]] == [initial, in_policy]
    assert summary["target_changes"] == [{"minute": 1, "real_s": 2.0, "from": initial, "to": in_policy}]
    assert f"target tuner at min 1: {initial:g} -> {in_policy:g}" in _summary_text(summary)
    assert (tmp_path / "timeline.png").exists()


def _summary_text(summary: dict[str, object]) -> str:
    out = io.StringIO()
    Console(out, 2.0).summary(summary)  # type: ignore[arg-type]
    return out.getvalue()
