"""The scaling policies the simulator compares, as controllers the engine calls once per period.

Every policy except ``keda-5`` runs on the same AWS control-plane model (`qas.model.control_plane`)
with this project's bootstrap and shutdown alarms; they differ in the metric target tracking
follows and in how its target is set. Without the bootstrap alarm, the metric-math baselines
(visible / InService) could never leave zero: the division drops the datapoint.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from qas.model.control_config import Deployment, control_plane_config
from qas.model.control_plane import ControlPlane, ControlPlaneConfig, PeriodInput, Platform, Source
from qas.model.platforms import model_platform
from queue_autoscaler.scaling.backlog import backlog_per_instance, keeps_warm, published_pressures
from queue_autoscaler.scaling.estimate import RunningJobs
from queue_autoscaler.scaling.fifo import cap_backlog_per_instance, queue_model
from queue_autoscaler.scaling.policy_spec import POLICY, PolicySpec
from queue_autoscaler.scaling.slo_guard import DEFAULT_SHARE, DRAIN_SHARE, QueueAge, is_settled
from queue_autoscaler.scaling.target import (
    DurationStats,
    GuardRails,
    TargetModel,
    aws_guidance_target,
    initial_target,
)
from queue_autoscaler.scaling.tuning import (
    DEFAULT_MAX_LOOKBACK_MINUTES,
    TunerPolicy,
    tune_target,
    tuner_policy,
)

StatsFor = Callable[[int], DurationStats | None]  # minutes -> completed durations of that window

# Target tracking periods EC2 accepts on a custom metric; Application Auto Scaling (ECS) has no Period.
EC2_PERIODS = (10, 30, 60)
# Without a launch lifecycle hook: launch -> InService (the EC2 part of a boot); the rest of boot_s is
# the user data's install, pull and start. An estimate: launch-to-running is tens of seconds
# (docs/simulator.md); `--in-service-seconds` replaces it.
IN_SERVICE_S = 30.0

# The largest TargetValue Application Auto Scaling accepts (its API reference: "-2^360 to 2^360").
TARGET_VALUE_MAX = 2.0**360


def guidance_target_value(slo_s: float, mean_s: float) -> float:
    """The aws-guidance baseline's TargetValue: AWS's formula, floored at 0.1 (the blueprint's target
    of 0 is a bug, not the guidance) and capped at what AWS accepts, so that a near-zero mean (a
    trace of instant jobs) gives the largest target AWS would take instead of an infinite one."""
    return min(TARGET_VALUE_MAX, max(0.1, aws_guidance_target(slo_s, mean_s)))


@dataclass(frozen=True)
class SimFleet:
    """What the user deploys: the template parameters the policies depend on. The scaling resources
    come from the policy spec (`queue_autoscaler.scaling.policy_spec`) through
    `qas.model.control_config.control_plane_config`; the bootstrap fields are the simulator's own
    knobs for trying other steps (`qas simulate --bootstrap-capacity`, `--bootstrap-steps`)."""

    slo_s: float
    max_capacity: int
    boot_s: float
    concurrency: int
    platform: Platform = Platform.EC2
    period_s: int = POLICY.period_s
    shutdown_minutes: int = POLICY.shutdown_after_minutes  # ShutdownAfterMinutes
    instance_warmup_s: float | None = None  # None: the boot time (DefaultInstanceWarmup ~ boot)
    # The bootstrap step from 0 (ExactCapacity), and the further steps k: k instances once the visible
    # messages fill k instances at the initial target. Defaults: the spec's.
    bootstrap_capacity: int = POLICY.bootstrap_steps[0][1]
    bootstrap_steps: tuple[int, ...] = tuple(k for k, _ in POLICY.bootstrap_steps[1:])
    lead_time_weight: float = 1.0
    rails: GuardRails = field(default_factory=GuardRails)
    tuner_interval_s: float = 300.0  # the tuner's schedule
    lookback_s: float = 600.0  # LOOKBACK_MINUTES
    max_lookback_s: float = DEFAULT_MAX_LOOKBACK_MINUTES * 60.0  # MAX_LOOKBACK_MINUTES
    tail_percentile: float = 99.0  # TAIL_PERCENTILE
    # A FIFO queue: the publisher caps BacklogPerInstance at what the message groups can use
    # (scaling.fifo); the template's FIFO bootstrap starts one instance (bootstrap_steps empty).
    fifo: bool = False
    slo_guard_share: float = DEFAULT_SHARE  # SLO_GUARD_SHARE (0 = no SLO guard)
    fast_lane: bool = True  # the FastLane step policy (template parameter FastLane)
    scale_in_lane: bool = True  # the ScaleInLane step policy (template parameter ScaleInLane)
    queue_share: float = TargetModel.queue_share  # QUEUE_SHARE
    max_wait_share: float = TargetModel.max_wait_share
    drain_guard: bool = True  # DRAIN_GUARD
    drain_share: float = DRAIN_SHARE  # DRAIN_SHARE
    keep_warm: bool | None = None  # KeepWarm: None = auto (scaling.backlog.keeps_warm)
    keep_warm_minutes: int = (
        POLICY.keep_warm_minutes
    )  # KeepWarmMinutes: the shutdown alarm's wait with KeepWarm
    duration_source: str = "worker"  # "queue": a consumer without our worker's metrics (Little's law)
    # The template's EC2 launch lifecycle hook: InService (the running count) means the worker can take
    # work. False: a group without it (the old template, one you do not own): InService in_service_s
    # after launch, so running counts instances that cannot consume yet (EngineSettings.in_service_s).
    launch_hook: bool = True
    in_service_s: float = IN_SERVICE_S

    def __post_init__(self) -> None:
        platform = model_platform(self.platform)
        if not self.launch_hook and not platform.launch_hook:
            raise ValueError(
                "--no-launch-hook is EC2 only: ECS counts a task as running once its container started"
            )
        if not (math.isfinite(self.in_service_s) and self.in_service_s >= 0):
            raise ValueError(f"--in-service-seconds must be a finite number >= 0, got {self.in_service_s!r}")
        if not platform.custom_metric_period and self.period_s != 60:
            raise ValueError(
                f"--period-seconds {self.period_s} is EC2 only: Application Auto Scaling (ECS) target"
                " tracking has no Period for custom metrics, so ECS runs on 60 s periods"
            )
        if self.period_s not in EC2_PERIODS:
            raise ValueError(f"--period-seconds must be one of {EC2_PERIODS}, got {self.period_s}")

    @property
    def policy_spec(self) -> PolicySpec:
        """The spec, or a variant with the bootstrap steps this fleet tries (k instances from k
        instances' worth of work, as `qas simulate --bootstrap-steps` states them)."""
        if (self.bootstrap_capacity, self.bootstrap_steps) == (
            SimFleet.bootstrap_capacity,
            SimFleet.bootstrap_steps,
        ):
            return POLICY
        steps = ((0, self.bootstrap_capacity), *((k, k) for k in self.bootstrap_steps))
        return dataclasses.replace(POLICY, bootstrap_steps=steps)

    @property
    def deployment(self) -> Deployment:
        return Deployment(
            platform=self.platform,
            max_capacity=self.max_capacity,
            period_s=self.period_s,
            instance_warmup_s=self.boot_s if self.instance_warmup_s is None else self.instance_warmup_s,
            shutdown_after_minutes=self.shutdown_minutes,
            keep_warm=self.keeps_warm,
            keep_warm_minutes=self.keep_warm_minutes,
            fast_lane=self.fast_lane,
            scale_in_lane=self.scale_in_lane,
            fifo=self.fifo,
        )

    def control_plane(self, target: float) -> ControlPlaneConfig:
        return control_plane_config(self.policy_spec, self.deployment, target)

    def target_model(self, high_datapoints: int = 3) -> TargetModel:
        """The tuner's target model for this queue (`scaling.fifo.queue_model`)."""
        return queue_model(self._base_model(high_datapoints), self.fifo)

    def _base_model(self, high_datapoints: int = 3) -> TargetModel:
        # CAPACITY_LEAD_SECONDS: the high alarm's evaluation plus boot time.
        return TargetModel(
            latency_slo_s=self.slo_s,
            concurrency=self.concurrency,
            capacity_lead_s=high_datapoints * self.period_s + self.boot_s,
            lead_time_weight=self.lead_time_weight,
            queue_share=self.queue_share,
            max_wait_share=self.max_wait_share,
        )

    def initial_target(self, expected_mean_s: float) -> float:
        """InitialTarget for the user's estimate of the mean processing time (`scaling.target`)."""
        expected = DurationStats(samples=1, mean_s=expected_mean_s)
        return initial_target(expected, self.target_model(), self.rails)

    @property
    def published_in_service_s(self) -> float | None:
        """When the running count sees a launch (None: once it consumes; see EngineSettings)."""
        return None if self.launch_hook else self.in_service_s

    @property
    def keeps_warm(self) -> bool:
        if self.keep_warm is not None:
            return self.keep_warm
        return keeps_warm(self.slo_s, cold_start_s=self.period_s + self.boot_s)

    def tuner_policy(self) -> TunerPolicy:
        return tuner_policy(
            self._base_model(),
            self.rails,
            fifo=self.fifo,
            lookback_minutes=round(self.lookback_s / 60),
            max_lookback_minutes=round(self.max_lookback_s / 60),
            guard_share=self.slo_guard_share,
            drain_guard=self.drain_guard,
            drain_share=self.drain_share,
        )


@dataclass(frozen=True)
class Observation:
    """One period as the alarms see it, handed to the controller once per period."""

    now_s: float  # when the alarm evaluates (period end + metric delay)
    visible: int  # as the publisher saw them (lagged, noisy)
    in_flight: int
    running: int
    desired: int
    oldest_age_s: float  # age of the oldest visible message as the publisher saw it (0 if none)
    missed: bool = False  # the publisher did not run: the datapoints are missing
    # The target the publisher read when it ran (its pressures and the FIFO cap use it); None: the
    # controller's target when it evaluates (no publisher modelled).
    target: float | None = None
    # The desired capacity the publisher saw, when the alarm evaluates later against a newer one.
    published_desired: int | None = None


@dataclass(frozen=True)
class Step:
    desired: int
    actions: int  # how many scale actions changed the desired capacity


class Controller(Protocol):
    protects_busy: bool  # do busy workers protect themselves from scale-in
    tune_every_s: float  # how often retune() is called
    lookback_s: float  # the window of completed durations it gets

    @property
    def target(self) -> float | None: ...

    def step(self, obs: Observation) -> Step: ...

    def retune(self, stats_for: StatsFor, running: RunningJobs) -> None: ...


Metric = Callable[[int, int, int], float | None]  # (visible, in_flight, running) -> datapoint


def visible_per_in_service(visible: int, _in_flight: int, running: int) -> float | None:
    """AWS's guidance / metric math: visible / InService; a division by zero drops the datapoint."""
    return None if running == 0 else visible / running


def our_backlog(visible: int, in_flight: int, running: int) -> float:
    return backlog_per_instance(visible, in_flight, running)


class TargetTracking:
    """A policy on the AWS control-plane model: a metric, an initial target, and a retuning rule."""

    protects_busy = True

    def __init__(self, settings: SimFleet, target: float, retune_rule: str, metric: Metric) -> None:
        self.settings = settings
        # AWS's guidance (and the ECS blueprint) retune hourly on the last hour's mean.
        hourly = retune_rule == "aws"
        self.tune_every_s = 3600.0 if hourly else settings.tuner_interval_s
        self.lookback_s = 3600.0 if hourly else settings.lookback_s
        self.plane = ControlPlane(settings.control_plane(target))
        self.retune_rule = retune_rule  # "tuned", "aws" or "static"
        self._metric = metric
        # (source, scaled out) -> how many periods that policy changed the desired capacity.
        self.activity: Counter[tuple[Source, bool]] = Counter()
        self._age: QueueAge | None = None
        self._settled_since_s: float | None = None  # the first settled period of the current run

    @property
    def target(self) -> float:
        return self.plane.target

    def step(self, obs: Observation) -> Step:
        settled = is_settled(obs.running, obs.desired)
        if not settled:
            self._settled_since_s = None
        elif self._settled_since_s is None:
            self._settled_since_s = obs.now_s
        since = self._settled_since_s
        self._age = QueueAge(
            obs.oldest_age_s,
            settled=settled,
            visible=obs.visible,
            running=obs.running,
            # The periods since the first settled datapoint: the tuner Lambda counts complete minutes only.
            settled_for_s=None if since is None else obs.now_s - since,
        )
        if obs.missed:
            self._age = None  # no datapoint: the tuner sees no age either
        result = self.plane.evaluate(self._published(obs))
        for action in result.actions:
            if action.applied:
                self.activity[action.source, action.is_scale_out] += 1
        return Step(result.desired, int(result.changed))

    def _published(self, obs: Observation) -> PeriodInput:
        """What the metric publisher published for this observation, with the target it read: the
        alarms evaluate these datapoints even when the tuner has changed the target since."""
        if obs.missed:
            return PeriodInput.missing(obs.now_s, obs.running, obs.desired)
        target = self.plane.target if obs.target is None else obs.target
        metric = self._metric(obs.visible, obs.in_flight, obs.running)
        if metric is None:  # metric math dropped the datapoint (a division by zero): no pressures either
            return PeriodInput(obs.now_s, None, obs.visible, obs.in_flight, obs.running, obs.desired)
        if self.settings.fifo and self._metric is our_backlog:
            metric = cap_backlog_per_instance(
                metric,
                visible=obs.visible,
                in_flight=obs.in_flight,
                running=obs.running,
                concurrency=self.settings.concurrency,
                target=target,
            )
        seen_desired = obs.desired if obs.published_desired is None else obs.published_desired
        out, lane = published_pressures(metric, obs.running, seen_desired, target)
        return PeriodInput(
            obs.now_s,
            metric,
            obs.visible,
            obs.in_flight,
            obs.running,
            obs.desired,
            scale_out_pressure=out,
            scale_in_pressure=lane,
        )

    def retune(self, stats_for: StatsFor, running: RunningJobs) -> None:
        if self.retune_rule == "tuned":
            run = tune_target(self.target, stats_for, running, self._age, self.settings.tuner_policy())
            if run.decision.changed:
                self.plane.set_target(run.decision.target)
            return
        stats = stats_for(round(self.lookback_s / 60))
        if self.retune_rule == "aws" and stats is not None and stats.samples > 0 and stats.mean_s > 0:
            # The blueprint's bug (a target of 0) is avoided with a floor; nothing else is added.
            self.plane.set_target(guidance_target_value(self.settings.slo_s, stats.mean_s))


class Keda:
    """KEDA's aws-sqs-queue scaler under the Kubernetes HPA: replicas = ceil(backlog / queueLength),
    scale-up at once, scale-down to the highest recommendation of the last 5 minutes, to zero after a
    300 s cooldown; the HPA picks victims, so busy workers are not protected."""

    protects_busy = False
    tune_every_s = 3600.0
    lookback_s = 3600.0

    def __init__(self, settings: SimFleet, queue_length: int = 5, stabilization_s: float = 300.0) -> None:
        self.settings = settings
        self.queue_length = queue_length
        self.stabilization_s = stabilization_s
        self._recent: deque[tuple[float, int]] = deque()
        self._last_active_s = -math.inf

    @property
    def target(self) -> float:
        return float(self.queue_length)

    def step(self, obs: Observation) -> Step:
        # KEDA reads SQS itself (its own polling), so a missed publisher sample does not blind it.
        now_s, desired = obs.now_s, obs.desired
        backlog = obs.visible + obs.in_flight
        if backlog > 0:
            self._last_active_s = now_s
        wanted = min(self.settings.max_capacity, math.ceil(backlog / self.queue_length))
        self._recent.append((now_s, wanted))
        while self._recent[0][0] < now_s - self.stabilization_s:
            self._recent.popleft()
        stabilized = max(w for _, w in self._recent)
        new = wanted if wanted > desired else min(desired, stabilized)
        if new == 0 and now_s - self._last_active_s < self.stabilization_s:
            new = min(desired, 1)  # KEDA's cooldownPeriod before going to zero
        return Step(new, int(new != desired))

    def retune(self, stats_for: StatsFor, running: RunningJobs) -> None:
        return None


class AlwaysOn:
    """The reference, not a policy: ``max_capacity`` instances running from the start, never scaled.
    Its SLO attainment bounds what any policy can reach with this fleet size."""

    protects_busy = True
    tune_every_s = 3600.0
    lookback_s = 3600.0

    def __init__(self, settings: SimFleet) -> None:
        self.settings = settings

    @property
    def target(self) -> float | None:
        return None

    def step(self, obs: Observation) -> Step:
        return Step(self.settings.max_capacity, 0)

    def retune(self, stats_for: StatsFor, running: RunningJobs) -> None:
        return None


REFERENCE = "always-on-max"

POLICIES: dict[str, str] = {
    "tuned": "this project: (visible + in-flight) / running; target from the SLO, concurrency, p99 tail"
    " and lead time, retuned every 5 minutes (adaptive lookback, running jobs, SLO guard), plus the fast"
    " lane",
    "static-8": "the scale-to-zero ASG design: same metric, fixed target 8",
    "static-3": "the Compiler Explorer metric-math design: visible / InService, fixed target 3",
    "aws-guidance": "AWS's guidance: visible / InService; target = SLO / mean processing time, retuned"
    " hourly",
    "keda-5": "KEDA aws-sqs-queue (queueLength 5, scaleOnInFlight) under the HPA; no scale-in protection",
}


def make_controller(
    name: str, settings: SimFleet, expected_mean_s: float, initial_target: float | None = None
) -> Controller:
    """Build a policy; ``expected_mean_s`` is the user's estimate of processing time at deploy time.

    ``initial_target``: the `tuned` policy's InitialTarget when the user sets one (`qas plan`).
    """
    # On a FIFO queue the template drops the fast lane (the scale-in lane stays) and the tuner its SLO
    # guard: control_plane_config and tuner_policy apply those rules from `fifo`.
    if name == "tuned":
        initial = settings.initial_target(expected_mean_s) if initial_target is None else initial_target
        return TargetTracking(settings, initial, "tuned", our_backlog)
    # The other designs: none of this project's additions (no KeepWarm either: their shutdown alarm
    # waits ShutdownAfterMinutes).
    settings = dataclasses.replace(
        settings, fast_lane=False, scale_in_lane=False, slo_guard_share=0.0, keep_warm=False
    )
    if name == "static-8":
        return TargetTracking(settings, 8.0, "static", our_backlog)
    if name == "static-3":
        return TargetTracking(settings, 3.0, "static", visible_per_in_service)
    if name == "aws-guidance":
        return TargetTracking(
            settings,
            guidance_target_value(settings.slo_s, expected_mean_s),
            "aws",
            visible_per_in_service,
        )
    if name == "keda-5":
        return Keda(settings)
    if name == REFERENCE:
        return AlwaysOn(settings)
    raise ValueError(f"unknown policy {name!r}; choose from {', '.join(POLICIES)}")
