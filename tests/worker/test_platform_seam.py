"""The worker's side of the platform seam: its Platform is a value-level copy of the Lambdas' one plus
LOCAL, and every platform has its parts (that the image, worker/ alone, holds every module the worker
imports is tests/architecture/test_worker_image.py)."""

from __future__ import annotations

from queue_autoscaler.common.platform import Platform as FleetPlatform
from worker import settings
from worker.fleet_platform import TRAITS, Platform
from worker.platform_parts import PARTS


def test_the_worker_knows_every_fleet_platform_by_the_same_value_and_local():
    assert {p.value for p in Platform} == {p.value for p in FleetPlatform} | {"LOCAL"}
    assert settings.Platform is Platform


def test_every_worker_platform_has_its_parts_and_traits():
    assert set(PARTS) == set(Platform)
    assert set(TRAITS) == set(Platform)
    # Only ECS needs the agent and watches rollouts; LOCAL makes no platform call at all.
    assert {p for p, t in TRAITS.items() if t.needs_ecs_agent} == {Platform.ECS}
    assert {p for p, t in TRAITS.items() if t.watches_rollouts} == {Platform.ECS}
