"""`qas api-calls`: the AWS API calls per second at the peak of the largest benchmark scenarios, by
API, set against the documented quota (docs/simulator.md, "API calls at scale")."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from qas.model.control_plane import Platform
from qas.sim import bench, realism
from qas.sim.api_calls import ApiCalls, ApiPeak, CallModel
from qas.sim.runner import simulate

# The fleets that reach hundreds to a thousand instances (d5), the highest message rate (d1), and
# the long-job grids; each on both platforms.
LARGEST = ("d5_ricc_hpc", "d3_lpc_egee_grid", "d4_llnl_thunder_hpc", "d1_azure_functions_background")

_SQS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html"
_CW = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html"
_ASG = "https://repost.aws/knowledge-center/autoscaling-api-calls-throttled"
_ECS = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html"


@dataclass(frozen=True)
class Quota:
    per_second: float | None  # None: AWS publishes no rate
    what: str
    page: str


def quota(api: str, fifo: bool = False) -> Quota:
    """The documented request quota of an API (per account and Region unless it says otherwise)."""
    service = api.split(":", maxsplit=1)[0]
    if service == "sqs":
        if api == "sqs:GetQueueAttributes":
            return Quota(None, "rate not published", _SQS)
        if fifo:
            return Quota(300.0, "FIFO: 300 per API action per queue partition (no high throughput)", _SQS)
        return Quota(None, "standard queue: nearly unlimited per API action", _SQS)
    if api == "cloudwatch:PutMetricData":
        return Quota(500.0, "500 TPS", _CW)
    if api == "cloudwatch:GetMetricData":
        return Quota(50.0, "50 TPS", _CW)
    if api == "cloudwatch:GetMetricStatistics":
        return Quota(400.0, "400 TPS", _CW)
    if service in ("autoscaling", "application-autoscaling"):
        return Quota(None, "one bucket per service, account and Region; rate not published", _ASG)
    return Quota(None, "token bucket per action (the page's table)", _ECS)


@dataclass(frozen=True)
class Row:
    api: str
    peak: ApiPeak
    scenario: str
    quota: Quota

    @property
    def headroom(self) -> float | None:
        if self.quota.per_second is None:
            return None
        return self.quota.per_second / max(1, self.peak.per_second)


def measure(
    scenarios: Sequence[str] = LARGEST,
    realisms: Sequence[str] = ("ideal", "aws"),
    platforms: Sequence[Platform] = (Platform.EC2, Platform.ECS),
    rollout_check_s: float = CallModel.rollout_check_s,
    flush_offset_s: float | None = None,
) -> list[Row]:
    """`tuned` on each scenario, platform and realism; per API, the run with the busiest second."""
    available = bench.scenarios_of(["synthetic", "real", "shapes"])
    unknown = [name for name in scenarios if name not in available]
    if unknown:
        raise ValueError(f"unknown scenario: {', '.join(unknown)}")
    best: dict[str, Row] = {}
    for name in scenarios:
        scenario = available[name]
        trace = scenario.trace(1.0)
        for platform in platforms:
            fleet = dataclasses.replace(scenario.fleet, platform=platform)
            for real_name in realisms:
                calls = ApiCalls(
                    CallModel(
                        platform=platform,
                        concurrency=fleet.concurrency,
                        rollout_check_s=rollout_check_s,
                        flush_offset_s=flush_offset_s,
                    )
                )
                real = realism.preset(real_name, fleet.period_s)
                simulate(trace, "tuned", fleet, realism=real, api_calls=calls)
                fifo = trace.group is not None
                for api, peak in calls.peaks().items():
                    row = Row(api, peak, f"{name} ({platform}, {real_name})", quota(api, fifo))
                    if api not in best or peak.per_second > best[api].peak.per_second:
                        best[api] = row
    return sorted(best.values(), key=lambda r: r.api)


def markdown(rows: Sequence[Row]) -> str:
    lines = [
        "| API | peak calls/s (busiest second) | busiest minute, calls/s | scenario | quota | headroom"
        " | page |",
        "|---|---:|---:|---|---|---:|---|",
    ]
    for r in rows:
        headroom = "n/a" if r.headroom is None else f"{r.headroom:.1f}x"
        lines.append(
            f"| `{r.api}` | {r.peak.per_second} | {r.peak.per_second_60s:.1f} | {r.scenario} | {r.quota.what}"
            f" | {headroom} | {r.quota.page} |"
        )
    return "\n".join(lines) + "\n"


def over_quota(rows: Sequence[Row]) -> list[Row]:
    return [r for r in rows if r.headroom is not None and not math.isinf(r.headroom) and r.headroom < 1]
