"""Settings of the target tuner, from the environment the template sets."""

from __future__ import annotations

from pydantic import Field, model_validator

from queue_autoscaler.platforms.settings import FleetSettings
from queue_autoscaler.scaling.slo_guard import DEFAULT_SHARE
from queue_autoscaler.scaling.target import GuardRails, TargetModel
from queue_autoscaler.scaling.tuning import DEFAULT_MAX_LOOKBACK_MINUTES, TunerPolicy, tuner_policy

# Defaults come from the pure models so the Lambda, the simulator and the docs cannot disagree.
_MODEL = TargetModel(latency_slo_s=1)
_RAILS = GuardRails()


class TunerSettings(FleetSettings):
    policy_name: str = Field(alias="SCALING_POLICY_NAME", min_length=1)
    latency_slo_s: float = Field(alias="LATENCY_SLO_SECONDS", gt=0)
    worker_concurrency: int = Field(default=1, alias="WORKER_CONCURRENCY", ge=1)
    capacity_lead_s: float = Field(default=_MODEL.capacity_lead_s, alias="CAPACITY_LEAD_SECONDS", ge=0)
    lead_time_weight: float = Field(default=_MODEL.lead_time_weight, alias="LEAD_TIME_WEIGHT", ge=0, le=1)
    # One period covers the window; 1-minute data is kept 15 days, so a day is a safe ceiling.
    # 10 minutes (with a 5-minute schedule) is what the benchmark validated: a shift in processing
    # time reaches the target within minutes instead of an hour (docs/design.md).
    lookback_minutes: int = Field(default=10, alias="LOOKBACK_MINUTES", ge=1, le=1440)
    # Too few completions in LOOKBACK_MINUTES: the window doubles up to this (scaling.estimate).
    max_lookback_minutes: int = Field(
        default=DEFAULT_MAX_LOOKBACK_MINUTES, alias="MAX_LOOKBACK_MINUTES", ge=1, le=1440
    )
    # The SLO guard acts when the oldest message is older than this share of the waiting budget; 0 = off.
    slo_guard_share: float = Field(default=DEFAULT_SHARE, alias="SLO_GUARD_SHARE", ge=0, le=1)
    # The queue's name, the QueueName dimension of AWS/SQS: ApproximateAgeOfOldestMessage for the SLO
    # guard, and NumberOfMessagesDeleted for the Little's-law fallback when no worker publishes
    # MsgProcessingDuration (a consumer other than ours). Unset: neither.
    queue_name: str | None = Field(default=None, alias="QUEUE_NAME", min_length=1)
    min_samples: int = Field(default=_RAILS.min_samples, alias="MIN_SAMPLES", ge=1)
    target_min: float = Field(default=_RAILS.min_target, alias="TARGET_MIN", ge=1)
    target_max: float = Field(default=_RAILS.max_target, alias="TARGET_MAX", ge=1)
    min_change_ratio: float = Field(default=_RAILS.min_change_ratio, alias="MIN_CHANGE_RATIO", ge=0)
    max_step_ratio: float = Field(default=_RAILS.max_step_ratio, alias="MAX_STEP_RATIO", gt=1)
    max_down_ratio: float = Field(default=_RAILS.max_down_ratio, alias="MAX_DOWN_RATIO", gt=1)
    # p99: the SLO promises 99% of messages, so plan for the 99th percentile's own processing time.
    tail_percentile: str = Field(default="p99", alias="TAIL_PERCENTILE", pattern=r"^p(\d{1,2}(\.\d{1,2})?)$")
    dry_run: bool = Field(default=False, alias="DRY_RUN")
    # Attach mode (the template's AttachFleet): the consumer is not ours, so each run says where the
    # durations came from (docs/attach.md).
    fleet_attached: bool = Field(default=False, alias="FLEET_ATTACHED")

    @model_validator(mode="after")
    def _bounds_in_order(self) -> TunerSettings:
        if self.target_max < self.target_min:
            raise ValueError(f"TARGET_MAX ({self.target_max:g}) must be >= TARGET_MIN ({self.target_min:g})")
        if self.max_lookback_minutes < self.lookback_minutes:
            raise ValueError(
                f"MAX_LOOKBACK_MINUTES ({self.max_lookback_minutes}) must be >= LOOKBACK_MINUTES "
                f"({self.lookback_minutes})"
            )
        return self

    @property
    def model(self) -> TargetModel:
        """The target model before the queue's type (`tuner_policy` adapts it to a FIFO queue)."""
        return TargetModel(
            latency_slo_s=self.latency_slo_s,
            concurrency=self.worker_concurrency,
            capacity_lead_s=self.capacity_lead_s,
            lead_time_weight=self.lead_time_weight,
        )

    @property
    def fifo(self) -> bool:
        return bool(self.queue_name and self.queue_name.endswith(".fifo"))

    @property
    def rails(self) -> GuardRails:
        return GuardRails(
            min_target=self.target_min,
            max_target=self.target_max,
            min_samples=self.min_samples,
            min_change_ratio=self.min_change_ratio,
            max_step_ratio=self.max_step_ratio,
            max_down_ratio=self.max_down_ratio,
        )

    @property
    def policy(self) -> TunerPolicy:
        return tuner_policy(
            self.model,
            self.rails,
            fifo=self.fifo,
            lookback_minutes=self.lookback_minutes,
            max_lookback_minutes=self.max_lookback_minutes,
            guard_share=self.slo_guard_share,
        )
