"""Typed records of what the emulator deployed: the stack, and the scaling resources it materialized
(in the form the control-plane model wants), built from the API requests that created them."""

from __future__ import annotations

from dataclasses import dataclass, field

from qas.emulator.account import JsonDict


@dataclass(frozen=True)
class MetricQuery:
    """One entry of an alarm's ``Metrics``: a metric (MetricStat) or an expression."""

    id: str
    return_data: bool
    expression: str | None = None
    namespace: str | None = None
    metric_name: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    stat: str | None = None
    period: int | None = None
    label: str | None = None


@dataclass(frozen=True)
class AlarmDefinition:
    logical_id: str
    name: str
    comparison_operator: str
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str
    alarm_actions: tuple[str, ...]
    ok_actions: tuple[str, ...]
    # A metric-math alarm has ``metrics``; a single-metric alarm the five fields below.
    metrics: tuple[MetricQuery, ...] = ()
    namespace: str | None = None
    metric_name: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    statistic: str | None = None
    period: int | None = None

    @property
    def expression(self) -> str | None:
        """The metric-math expression whose value the alarm compares, if any."""
        for query in self.metrics:
            if query.return_data and query.expression:
                return query.expression
        return None


@dataclass(frozen=True)
class StepAdjustment:
    lower_bound: float | None
    upper_bound: float | None
    scaling_adjustment: int


@dataclass(frozen=True)
class StepPolicyDefinition:
    logical_id: str
    name: str
    arn: str
    adjustment_type: str
    steps: tuple[StepAdjustment, ...]
    metric_aggregation_type: str | None
    cooldown_s: int | None


@dataclass(frozen=True)
class TrackingPolicyDefinition:
    logical_id: str
    name: str
    arn: str
    target_value: float
    namespace: str
    metric_name: str
    dimensions: dict[str, str]
    statistic: str
    period_s: int  # 60 unless the EC2 policy sets Period (high resolution)
    disable_scale_in: bool
    scale_out_cooldown_s: int | None  # ECS only
    scale_in_cooldown_s: int | None  # ECS only


@dataclass(frozen=True)
class ScalableTargetDefinition:
    resource_id: str
    scalable_dimension: str
    min_capacity: int
    max_capacity: int


@dataclass(frozen=True)
class ScalingResources:
    """What moto skipped, now created through the APIs, in the form the control-plane model wants."""

    platform: str
    fleet_name: str
    min_capacity: int
    max_capacity: int
    instance_warmup_s: int | None  # EC2 DefaultInstanceWarmup
    tracking_policy: TrackingPolicyDefinition
    step_policies: dict[str, StepPolicyDefinition]  # by logical id
    alarms: dict[str, AlarmDefinition]  # by logical id
    scalable_target: ScalableTargetDefinition | None  # ECS only
    queue_policies: dict[str, JsonDict]  # queue URL -> policy document

    def policy_of(self, alarm: AlarmDefinition) -> StepPolicyDefinition | None:
        """The step policy an alarm triggers, if its action is one."""
        by_arn = {policy.arn: policy for policy in self.step_policies.values()}
        for action in alarm.alarm_actions:
            if action in by_arn:
                return by_arn[action]
        return None

    @property
    def bootstrap(self) -> tuple[AlarmDefinition, StepPolicyDefinition]:
        return self._alarm_with_policy("BootstrapAlarm")

    @property
    def shutdown(self) -> tuple[AlarmDefinition, StepPolicyDefinition]:
        return self._alarm_with_policy("ShutdownAlarm")

    def _alarm_with_policy(self, logical_id: str) -> tuple[AlarmDefinition, StepPolicyDefinition]:
        alarm = self.alarms[logical_id]
        policy = self.policy_of(alarm)
        if policy is None:
            raise LookupError(f"{logical_id} triggers no step policy")
        return alarm, policy


@dataclass(frozen=True)
class DeployedStack:
    endpoint: str
    stack_name: str
    platform: str
    parameters: dict[str, str]  # effective values: defaults plus what was passed
    outputs: dict[str, str]
    physical_ids: dict[str, str]  # logical id -> physical id, for what moto created
    template: JsonDict  # the translated template
    scaling: ScalingResources | None = None


def _dimensions(items: list[JsonDict] | None) -> dict[str, str]:
    return {str(item["Name"]): str(item["Value"]) for item in items or []}


def tracking_definition(logical_id: str, name: str, arn: str, config: JsonDict) -> TrackingPolicyDefinition:
    metric = config["CustomizedMetricSpecification"]
    return TrackingPolicyDefinition(
        logical_id=logical_id,
        name=name,
        arn=arn,
        target_value=float(config["TargetValue"]),
        namespace=metric["Namespace"],
        metric_name=metric["MetricName"],
        dimensions=_dimensions(metric.get("Dimensions")),
        statistic=metric["Statistic"],
        period_s=int(metric.get("Period", 60)),
        disable_scale_in=bool(config.get("DisableScaleIn", False)),
        scale_out_cooldown_s=config.get("ScaleOutCooldown"),
        scale_in_cooldown_s=config.get("ScaleInCooldown"),
    )


def step_definition(logical_id: str, name: str, arn: str, config: JsonDict) -> StepPolicyDefinition:
    return StepPolicyDefinition(
        logical_id=logical_id,
        name=name,
        arn=arn,
        adjustment_type=config["AdjustmentType"],
        steps=tuple(
            StepAdjustment(
                lower_bound=step.get("MetricIntervalLowerBound"),
                upper_bound=step.get("MetricIntervalUpperBound"),
                scaling_adjustment=int(step["ScalingAdjustment"]),
            )
            for step in config["StepAdjustments"]
        ),
        metric_aggregation_type=config.get("MetricAggregationType"),
        cooldown_s=config.get("Cooldown"),
    )


def alarm_definition(logical_id: str, request: JsonDict) -> AlarmDefinition:
    queries = tuple(
        MetricQuery(
            id=query["Id"],
            return_data=bool(query.get("ReturnData", True)),
            expression=query.get("Expression"),
            namespace=query.get("MetricStat", {}).get("Metric", {}).get("Namespace"),
            metric_name=query.get("MetricStat", {}).get("Metric", {}).get("MetricName"),
            dimensions=_dimensions(query.get("MetricStat", {}).get("Metric", {}).get("Dimensions")),
            stat=query.get("MetricStat", {}).get("Stat"),
            period=query.get("MetricStat", {}).get("Period"),
            label=query.get("Label"),
        )
        for query in request.get("Metrics", [])
    )
    evaluation_periods = int(request["EvaluationPeriods"])
    return AlarmDefinition(
        logical_id=logical_id,
        name=request["AlarmName"],
        comparison_operator=request["ComparisonOperator"],
        threshold=float(request["Threshold"]),
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=int(request.get("DatapointsToAlarm", evaluation_periods)),
        treat_missing_data=request.get("TreatMissingData", "missing"),
        alarm_actions=tuple(request.get("AlarmActions", [])),
        ok_actions=tuple(request.get("OKActions", [])),
        metrics=queries,
        namespace=request.get("Namespace"),
        metric_name=request.get("MetricName"),
        dimensions=_dimensions(request.get("Dimensions")),
        statistic=request.get("Statistic"),
        period=request.get("Period"),
    )
