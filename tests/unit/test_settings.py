"""Settings parsing: defaults, empty variables, and errors that name the variable."""

from __future__ import annotations

import pytest

from queue_autoscaler.common.settings import ConfigError, Platform, load_settings
from queue_autoscaler.metric_publisher.settings import PublisherSettings
from queue_autoscaler.platforms.settings import FleetSettings
from queue_autoscaler.producer.messages import LogNormal
from queue_autoscaler.producer.settings import ProducerSettings
from queue_autoscaler.target_tuner.settings import TunerSettings

EC2 = {"FLEET_PLATFORM": "EC2", "FLEET_NAME": "workers"}


def test_fleet_settings_defaults():
    settings = load_settings(FleetSettings, EC2)

    assert settings.platform is Platform.EC2
    assert settings.namespace == "QueueAutoscaler"
    assert settings.ecs_cluster == ""


def test_unknown_platform_is_named_with_its_value():
    with pytest.raises(ConfigError) as err:
        load_settings(FleetSettings, {**EC2, "FLEET_PLATFORM": "K8S"})

    assert str(err.value) == "FLEET_PLATFORM: Input should be 'EC2' or 'ECS', got 'K8S'"


def test_every_missing_variable_is_named():
    with pytest.raises(ConfigError) as err:
        load_settings(FleetSettings, {})

    assert str(err.value) == "FLEET_PLATFORM is required; FLEET_NAME is required"


def test_empty_variable_means_default_and_empty_required_means_missing():
    settings = load_settings(PublisherSettings, {**EC2, "QUEUE_URL": "q", "SAMPLE_INTERVAL_SECONDS": " "})
    assert settings.sample_interval_s == 10

    with pytest.raises(ConfigError, match=r"^QUEUE_URL is required$"):
        load_settings(PublisherSettings, {**EC2, "QUEUE_URL": ""})


def test_ecs_needs_a_cluster():
    with pytest.raises(ConfigError, match="ECS_CLUSTER is required when FLEET_PLATFORM is ECS"):
        load_settings(FleetSettings, {"FLEET_PLATFORM": "ECS", "FLEET_NAME": "svc"})


@pytest.mark.parametrize(("interval", "samples"), [("10", 6), ("15", 4), ("60", 1), ("7", 8)])
def test_high_resolution_samples_per_minute(interval, samples):
    env = {**EC2, "QUEUE_URL": "q", "HIGH_RESOLUTION": "true", "SAMPLE_INTERVAL_SECONDS": interval}

    assert load_settings(PublisherSettings, env).samples_per_invocation == samples
    assert load_settings(PublisherSettings, {**env, "HIGH_RESOLUTION": "false"}).samples_per_invocation == 1


def test_tuner_builds_the_pure_models_from_its_variables():
    settings = load_settings(
        TunerSettings,
        {
            **EC2,
            "SCALING_POLICY_NAME": "p",
            "LATENCY_SLO_SECONDS": "120",
            "WORKER_CONCURRENCY": "4",
            "CAPACITY_LEAD_SECONDS": "240",
            "LEAD_TIME_WEIGHT": "0.25",
            "TARGET_MIN": "2",
            "TARGET_MAX": "500",
            "MIN_SAMPLES": "10",
            "MIN_CHANGE_RATIO": "0.1",
            "MAX_STEP_RATIO": "3",
            "TAIL_PERCENTILE": "p99.9",
            "DRY_RUN": "TRUE",
        },
    )

    assert (settings.model.latency_slo_s, settings.model.concurrency) == (120, 4)
    assert (settings.model.capacity_lead_s, settings.model.lead_time_weight) == (240, 0.25)
    rails = settings.rails
    assert (rails.min_target, rails.max_target, rails.min_samples) == (2, 500, 10)
    assert (rails.min_change_ratio, rails.max_step_ratio) == (0.1, 3)
    assert settings.tail_percentile == "p99.9"
    assert settings.dry_run is True
    assert settings.lookback_minutes == 10  # the benchmarked default
    assert settings.rails.max_down_ratio == 8


def test_producer_distribution_is_json_with_a_default():
    assert load_settings(ProducerSettings, {"QUEUE_URL": "q"}).distribution.kind == "fixed"

    settings = load_settings(
        ProducerSettings,
        {
            "QUEUE_URL": "q",
            "PRODUCER_DISTRIBUTION": '{"kind": "lognormal", "mean_seconds": 20, "sigma": 0.5}',
        },
    )
    assert settings.distribution == LogNormal(kind="lognormal", mean_seconds=20, sigma=0.5)


def test_producer_distribution_error_names_the_variable():
    with pytest.raises(ConfigError) as err:
        load_settings(ProducerSettings, {"QUEUE_URL": "q", "PRODUCER_DISTRIBUTION": '{"kind": "fixed"}'})

    assert str(err.value) == "PRODUCER_DISTRIBUTION (fixed.seconds): Field required"
