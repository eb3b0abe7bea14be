"""PutScalingPolicy payloads for a target change, built from explicit field lists.

PutScalingPolicy replaces the whole policy, so the tuner sends back what it described with only
TargetValue changed. Copying the described dict wholesale would also send back whatever a describe
returns that a put must not get: an empty `Metrics` list next to `MetricName` (the two are
alternatives), or fields a newer API adds. So each level names the fields it keeps.

`Period` (10 s high-resolution tracking, EC2 only) must survive: a botocore that predates it drops it
from the describe response and the put would silently return the policy to 60 s. `require_period()`
fails instead; src/requirements.txt bundles the boto3 the code was tested with so the Lambda
runtime's own copy is not used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import botocore.session

# EC2 Auto Scaling (autoscaling): TargetTrackingConfiguration and its metric spec.
EC2_TRACKING_FIELDS = ("PredefinedMetricSpecification", "CustomizedMetricSpecification", "DisableScaleIn")
EC2_METRIC_FIELDS = ("MetricName", "Namespace", "Dimensions", "Statistic", "Unit", "Period")
EC2_POLICY_FIELDS = ("EstimatedInstanceWarmup", "Enabled")
# Application Auto Scaling (ECS): TargetTrackingScalingPolicyConfiguration; it has no Period.
ECS_TRACKING_FIELDS = (
    "PredefinedMetricSpecification",
    "CustomizedMetricSpecification",
    "ScaleOutCooldown",
    "ScaleInCooldown",
    "DisableScaleIn",
)
ECS_METRIC_FIELDS = ("MetricName", "Namespace", "Dimensions", "Statistic", "Unit")


class BotocoreTooOldError(RuntimeError):
    """The botocore in use does not know a field the policy depends on."""


def _pick(source: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    return {field: source[field] for field in fields if field in source}


def _metric(described: Mapping[str, Any], single_metric_fields: Iterable[str]) -> dict[str, Any]:
    """A customized metric is either one metric (MetricName...) or a non-empty `Metrics` list."""
    metrics = described.get("Metrics") or []
    if metrics:
        # Period applies to both forms on EC2.
        extra = _pick(described, ("Period",)) if "Period" in single_metric_fields else {}
        return {"Metrics": metrics, **extra}
    return _pick(described, single_metric_fields)


def tracking_configuration(
    described: Mapping[str, Any], target: float, fields: Iterable[str], metric_fields: Iterable[str]
) -> dict[str, Any]:
    configuration = _pick(described, fields)
    if "CustomizedMetricSpecification" in configuration:
        configuration["CustomizedMetricSpecification"] = _metric(
            configuration["CustomizedMetricSpecification"], tuple(metric_fields)
        )
    configuration["TargetValue"] = target
    return configuration


def ec2_put_arguments(policy: Mapping[str, Any], target: float) -> dict[str, Any]:
    """The keyword arguments besides group, name and type for autoscaling.put_scaling_policy."""
    configuration = tracking_configuration(
        policy["TargetTrackingConfiguration"], target, EC2_TRACKING_FIELDS, EC2_METRIC_FIELDS
    )
    return {"TargetTrackingConfiguration": configuration, **_pick(policy, EC2_POLICY_FIELDS)}


def ecs_configuration(policy: Mapping[str, Any], target: float) -> dict[str, Any]:
    return tracking_configuration(
        policy["TargetTrackingScalingPolicyConfiguration"], target, ECS_TRACKING_FIELDS, ECS_METRIC_FIELDS
    )


def require_period(model: Any = None) -> None:
    """Fail when this botocore cannot carry the EC2 tracking Period through describe and put."""
    model = model or botocore.session.get_session().get_service_model("autoscaling")
    members = model.shape_for("CustomizedMetricSpecification").members
    if "Period" not in members:
        import botocore as installed  # noqa: PLC0415 (only for the message)

        raise BotocoreTooOldError(
            f"botocore {installed.__version__} does not know CustomizedMetricSpecification.Period: a"
            " target update would reset 10 s tracking to 60 s. Deploy with the bundled boto3"
            " (src/requirements.txt) and `sam build`."
        )
