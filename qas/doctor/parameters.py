"""Parameter checks of a preflight: names, required values, allowed values and the template's Rules."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from qas.doctor import config
from qas.doctor.findings import Finding, ok, problem

CHECK = "parameters"


def check_parameters(
    template: Mapping[str, Any], given: Mapping[str, str], *, claimed: Collection[str] = ()
) -> list[Finding]:
    """``claimed``: Rules another check reports in its own words (qas/doctor/warm_pool.py)."""
    findings: list[Finding] = []
    for name in config.unknown_parameters(template, given):
        findings.append(problem(CHECK, f"{name} is not a parameter of the template", f"remove or fix {name}"))
    values = config.effective_parameters(dict(template), given)
    for name in config.missing_parameters(template, values):
        findings.append(
            problem(CHECK, f"{name} has no default and no value", f"add {name}=... to parameter_overrides")
        )
    for name, value in values.items():
        findings.extend(_allowed(name, template["Parameters"][name], value))
    for rule, description in config.broken_rules(template, values):
        if rule in claimed:
            continue
        findings.append(problem(CHECK, f"rule {rule}: the deploy would be rejected", description))
    return findings or [ok(CHECK, f"{len(values)} parameters are valid, and so is their combination")]


def _allowed(name: str, spec: Mapping[str, Any], value: str) -> list[Finding]:
    allowed = [str(item) for item in spec.get("AllowedValues", [])]
    if allowed and value not in allowed:
        return [problem(CHECK, f"{name}={value!r} is not allowed", f"use one of {', '.join(allowed)}")]
    if spec.get("Type") == "Number":
        return _in_range(name, spec, value)
    pattern = spec.get("AllowedPattern")
    if pattern and not re.fullmatch(str(pattern), value):
        return [problem(CHECK, f"{name}={value!r} does not match {pattern}", f"fix {name}")]
    return []


def _in_range(name: str, spec: Mapping[str, Any], value: str) -> list[Finding]:
    """MinValue and MaxValue of a Number parameter, which CloudFormation checks before anything
    (docs/aws-behaviour.md#cfn-parameter-bounds)."""
    try:
        number = float(value)
    except ValueError:
        return [problem(CHECK, f"{name}={value!r} is not a number", f"fix {name}")]
    low, high = spec.get("MinValue"), spec.get("MaxValue")
    if (low is not None and number < float(low)) or (high is not None and number > float(high)):
        bounds = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
        return [problem(CHECK, f"{name}={value} is outside {bounds}", f"set {name} within {bounds}")]
    return []
