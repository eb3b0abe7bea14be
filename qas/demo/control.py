"""The demo's control plane: the publisher's datapoints from the emulated CloudWatch, fed to the
shared model (`qas.model.control_plane`), whose desired capacity the fleet then applies.

moto stores the alarms and policies but never evaluates them; this is the part of AWS it lacks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from mypy_boto3_cloudwatch import CloudWatchClient

from qas.model.control_plane import ControlPlane, PeriodInput, PeriodResult
from queue_autoscaler.scaling.policy_spec import METRICS

# The statistic each alarm asks of each metric in template.yaml (target tracking: Average;
# bootstrap/shutdown metric math and both lanes: Maximum). One datapoint per period, so they agree.
_STATS = {
    METRICS.backlog_per_instance: "Average",
    METRICS.visible: "Maximum",
    METRICS.in_flight: "Maximum",
    METRICS.running: "Maximum",
    METRICS.desired: "Maximum",
    METRICS.scale_out_pressure: "Maximum",
    METRICS.scale_in_pressure: "Maximum",
}


@dataclass(frozen=True)
class Datapoints:
    """The publisher's metrics for one demo minute (None: nothing was published)."""

    backlog_per_instance: float | None
    visible: int | None
    in_flight: int | None
    running: int | None
    desired: int | None
    # What the publisher published for the two lanes, with the target it read (None: not published,
    # when it could not read the target); the lanes' alarms evaluate exactly these.
    scale_out_pressure: float | None = None
    scale_in_pressure: float | None = None

    @property
    def complete(self) -> bool:
        return None not in (
            self.backlog_per_instance,
            self.visible,
            self.in_flight,
            self.running,
            self.desired,
        )


def read_datapoints(
    cloudwatch: CloudWatchClient, namespace: str, fleet_name: str, start: datetime, end: datetime
) -> Datapoints:
    """Aggregate each metric over [start, end): one real-time window is one demo-minute period.

    The period asked of CloudWatch spans the whole window, so the compressed clock needs no
    sub-minute period support (moto buckets any Period; AWS would need high resolution).
    """
    period = max(1, math.ceil((end - start).total_seconds()))
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": f"m{index}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": name,
                        "Dimensions": [{"Name": "FleetName", "Value": fleet_name}],
                    },
                    "Period": period,
                    "Stat": stat,
                },
            }
            for index, (name, stat) in enumerate(_STATS.items())
        ],
        StartTime=start,
        EndTime=end,
    )
    values: dict[str, float | None] = dict.fromkeys(_STATS)
    names = list(_STATS)
    for result in response["MetricDataResults"]:
        if result.get("Values"):
            values[names[int(result["Id"][1:])]] = float(result["Values"][0])

    def as_int(name: str) -> int | None:
        value = values[name]
        return None if value is None else round(value)

    return Datapoints(
        backlog_per_instance=values[METRICS.backlog_per_instance],
        visible=as_int(METRICS.visible),
        in_flight=as_int(METRICS.in_flight),
        running=as_int(METRICS.running),
        desired=as_int(METRICS.desired),
        scale_out_pressure=values[METRICS.scale_out_pressure],
        scale_in_pressure=values[METRICS.scale_in_pressure],
    )


def evaluate(
    model: ControlPlane, minute: int, points: Datapoints, desired_now: int, running_now: int
) -> PeriodResult:
    """One alarm evaluation at the end of demo minute ``minute`` (model time: demo seconds)."""
    now_s = (minute + 1) * 60.0
    if not points.complete:
        # Nothing published: every alarm has a missing datapoint (qas.model.alarm evaluates the rest).
        return model.evaluate(PeriodInput.missing(now_s, running_now, desired_now))
    assert points.visible is not None and points.in_flight is not None
    assert points.running is not None and points.desired is not None
    return model.evaluate(
        PeriodInput(
            now_s=now_s,
            metric=points.backlog_per_instance,
            visible=points.visible,
            in_flight=points.in_flight,
            running=points.running,
            desired=points.desired,
            scale_out_pressure=points.scale_out_pressure,
            scale_in_pressure=points.scale_in_pressure,
        )
    )


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
