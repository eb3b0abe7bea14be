"""The fleet platforms: the one definition of the `Platform` type.

Pure and import-free, so that the Lambdas' settings, the model of AWS (`qas.model`), the simulator,
the demo and `qas plan` all share the same enum. What each platform does lives in its own module:
`queue_autoscaler.platforms` (the Lambdas) and `qas.model.platforms` (the model); the worker image
holds a value-level copy (`worker/fleet_platform.py`, held equal by tests/worker/test_platform_seam.py).
"""

from __future__ import annotations

from enum import StrEnum


class Platform(StrEnum):
    """Where the worker fleet runs; the value is the template's WorkerPlatform parameter."""

    EC2 = "EC2"
    ECS = "ECS"
