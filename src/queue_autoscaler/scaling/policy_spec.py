"""The scaling policy, once: the numbers template.yaml's alarms and step policies are written with.

Pure. Everything else derives from :data:`POLICY`: the metric publisher's metric names and the
scale-in lane's steps (this module is in the Lambda bundle because the publisher imports it), the
control-plane model's settings for the simulator and the demo
(`qas.model.control_config.control_plane_config`), and `qas plan`'s defaults.
`tests/template/test_policy_spec.py` reads the SAM-translated template and names every value that
differs from this one; docs/architecture.md has the "change the policy" checklist, and
docs/design.md ("Policy spec: why each value") the measurement behind each field.

Conventions, as the model takes them (the template writes the same numbers in AWS's form):

* a pressure is BacklogPerInstance / the target in force (``ScaleOutPressure``, ``ScaleInPressure``);
* fast-lane steps are (lowest pressure, share of running capacity added); a step adds what its
  LOWER bound asks for, so it never overshoots what target tracking would ask;
* scale-in-lane steps are (pressure below, percent of running capacity removed); a step removes
  what its UPPER bound allows;
* bootstrap steps are (instances' worth of visible work, ExactCapacity): the bootstrap alarm's
  metric is visible / InitialTarget.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MetricNames:
    """The metric names the parts agree on (namespace: the template's MetricNamespace; dimension
    FleetName). docs/contracts.md lists them; the worker image carries only `worker/`, so it keeps
    its own literals, held equal to these by tests/worker/test_metric_names.py."""

    # The metric publisher's, every minute (or 10 s in high-resolution mode).
    backlog_per_instance: str = "BacklogPerInstance"
    visible: str = "VisibleMessages"
    in_flight: str = "InFlightMessages"
    running: str = "RunningCapacity"
    desired: str = "DesiredCapacity"
    peer_running: str = "PeerRunningCapacity"
    group_ceiling: str = "GroupBoundBacklogCeiling"
    scale_out_pressure: str = "ScaleOutPressure"
    scale_in_pressure: str = "ScaleInPressure"
    # The target tuner's.
    target: str = "TargetBacklogPerInstance"
    # The worker's.
    processing_duration: str = "MsgProcessingDuration"
    message_latency: str = "MessageLatency"
    processed: str = "MessagesProcessed"
    failed: str = "MessagesFailed"
    running_jobs: str = "RunningJobs"
    running_job_seconds: str = "RunningJobSeconds"


@dataclass(frozen=True)
class PolicySpec:
    """template.yaml's scaling policy. Defaults of template parameters are marked as such; the
    deployment (`qas.model.control_config.Deployment`) may set others."""

    metrics: MetricNames = field(default_factory=MetricNames)
    # Target tracking on metrics.backlog_per_instance (Average): its period, 60 s, or this one on EC2
    # with HighResolutionMetrics.
    period_s: int = 60
    high_resolution_period_s: int = 10
    # ECS target tracking's cooldowns (Application Auto Scaling's defaults are 300 s each).
    ecs_scale_out_cooldown_s: int = 60
    ecs_scale_in_cooldown_s: int = 300
    # ECS step policies' Cooldown (every step policy; EC2 step policies have none).
    ecs_step_cooldown_s: int = 60
    # EC2 DefaultInstanceWarmup.
    ec2_instance_warmup_s: int = 60
    # The bootstrap, shutdown and scale-in-lane alarms' Period, in high-resolution mode too.
    step_alarm_period_s: int = 60
    # Bootstrap: its alarm fires on this many datapoints of visible / InitialTarget above 0 while
    # nothing is desired, then (instances' worth of visible work from, ExactCapacity); the first starts at 0.
    bootstrap_datapoints: int = 1
    bootstrap_steps: tuple[tuple[int, int], ...] = (
        (0, 1),
        (2, 2),
        (4, 4),
        (8, 8),
        (16, 16),
        (32, 32),
        (64, 64),
    )
    # Shutdown: minutes of an empty queue before 0 (ShutdownAfterMinutes' default), and with KeepWarm
    # (KeepWarmMinutes' default).
    shutdown_after_minutes: int = 5
    keep_warm_minutes: int = 10
    # KeepWarm=auto (the simulator, `qas plan`): keep one warm when a cold start (the bootstrap alarm's
    # period plus the boot) takes more than this share of the SLO.
    cold_start_share: float = 0.6
    # Fast lane: ScaleOutPressure above the lowest step for this many datapoints (Period: the tracking
    # period), then (lowest pressure, added share of running capacity).
    fast_lane_datapoints: int = 1
    fast_lane_steps: tuple[tuple[float, float], ...] = (
        (1.2, 0.2),
        (1.5, 0.5),
        (2.0, 1.0),
        (3.0, 2.0),
        (5.0, 4.0),
    )
    # Scale-in lane: ScaleInPressure below the threshold (target tracking's own scale-in threshold)
    # for this many step-alarm periods, then (pressure below, percent of running capacity removed).
    scale_in_lane_datapoints: int = 5
    scale_in_lane_steps: tuple[tuple[float, int], ...] = ((0.25, 75), (0.5, 50), (0.75, 25), (0.9, 10))

    def __post_init__(self) -> None:
        if not self.bootstrap_steps or self.bootstrap_steps[0][0] != 0:
            raise ValueError("bootstrap_steps must start at 0 instances' worth of work")
        if self.fast_lane_steps != tuple(sorted(self.fast_lane_steps)):
            raise ValueError("fast_lane_steps must be in rising order of pressure")
        if self.scale_in_lane_steps != tuple(sorted(self.scale_in_lane_steps)):
            raise ValueError("scale_in_lane_steps must be in rising order of pressure")

    @property
    def fast_lane_threshold(self) -> float:
        """The fast-lane alarm's Threshold: its lowest step (GreaterThanThreshold)."""
        return self.fast_lane_steps[0][0]

    @property
    def scale_in_lane_threshold(self) -> float:
        """The scale-in-lane alarm's Threshold: its highest step (LessThanThreshold)."""
        return self.scale_in_lane_steps[-1][0]


POLICY = PolicySpec()
METRICS = POLICY.metrics
