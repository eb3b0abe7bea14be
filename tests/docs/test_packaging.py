"""pyproject.toml: metadata a current setuptools reads without deprecation warnings, and the
property-test library in the dev dependencies."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
# setuptools reads `project.license` as an SPDX expression from 77.0.0 (PEP 639); a TOML table is
# deprecated there, and older versions reject the string.
SPDX_LICENSE_SINCE = Version("77.0.0")


def _requirement(name: str, requirements: list[str]) -> Requirement:
    return next(r for r in map(Requirement, requirements) if r.name == name)


def test_the_license_is_an_spdx_string_and_the_backend_can_read_it() -> None:
    assert PYPROJECT["project"]["license"] == "MIT-0"
    setuptools = _requirement("setuptools", PYPROJECT["build-system"]["requires"])
    floor = min(Version(spec.version) for spec in setuptools.specifier if spec.operator == ">=")
    assert floor >= SPDX_LICENSE_SINCE
    assert not setuptools.specifier.contains("76.1")


def test_hypothesis_is_a_dev_dependency() -> None:
    assert _requirement("hypothesis", PYPROJECT["project"]["optional-dependencies"]["dev"])
