"""The deploy a preflight checks: a samconfig.toml environment, merged with the template's defaults,
and the template's own `Rules` evaluated on it (the same assertions CloudFormation makes)."""

from __future__ import annotations

import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qas import emulator

effective_parameters = emulator.effective_parameters  # every parameter's value, defaults included

# Rule functions beyond the condition functions the emulator's resolver knows.
_UNSUPPORTED = ("Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn", "Fn::RefAll", "Fn::ValueOf")


@dataclass(frozen=True)
class DeployConfig:
    env: str
    stack_name: str
    region: str | None
    parameters: dict[str, str]  # what the environment sets (not the defaults)


def read_samconfig(path: Path, env: str) -> DeployConfig:
    """The environment's deploy parameters, ``global`` then ``deploy`` (as SAM merges them). Raises
    ValueError naming the file and the table or key that cannot be read."""
    if not path.is_file():
        raise ValueError(f"{path} does not exist")
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    if env not in config:
        raise ValueError(f"--config-env {env!r}: no [{env}] in {path} (has: {', '.join(sorted(config))})")
    sections = _table(config[env], f"[{env}]", path)
    merged: dict[str, tuple[str, Any]] = {}  # key -> (the table it came from, value)
    for section in ("global", "deploy"):
        if section not in sections:
            continue
        commands = _table(sections[section], f"[{env}.{section}]", path)
        where = f"[{env}.{section}.parameters]"
        for key, value in _table(commands.get("parameters", {}), where, path).items():
            merged[key] = (where, value)
    stack_name = _string(merged, "stack_name", path)
    if not stack_name:
        raise ValueError(f"[{env}] in {path} names no stack_name")
    overrides: str | list[str] = []
    if "parameter_overrides" in merged:
        where, value = merged["parameter_overrides"]
        is_list = isinstance(value, list) and all(isinstance(item, str) for item in value)
        if not (isinstance(value, str) or is_list):
            raise ValueError(
                f'{path}: {where} parameter_overrides must be "Key=Value" strings, got {value!r}'
            )
        overrides = value
    try:
        parameters = parse_overrides(overrides)
    except ValueError as exc:
        raise ValueError(f"{path}: {merged['parameter_overrides'][0]} {exc}") from None
    return DeployConfig(
        env=env, stack_name=stack_name, region=_string(merged, "region", path), parameters=parameters
    )


def _table(value: Any, where: str, path: Path) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{path}: {where} must be a table, got {value!r}")
    return value


def _string(merged: Mapping[str, tuple[str, Any]], key: str, path: Path) -> str | None:
    if key not in merged:
        return None
    where, value = merged[key]
    if not isinstance(value, str):
        raise ValueError(f"{path}: {where} {key} must be a string, got {value!r}")
    return value


def parse_overrides(overrides: str | list[str]) -> dict[str, str]:
    """`parameter_overrides` as SAM reads it: a list of "Key=Value", or one space-separated string."""
    try:
        items = shlex.split(overrides) if isinstance(overrides, str) else list(overrides)
    except ValueError as exc:  # shlex: an unbalanced quote
        raise ValueError(f"parameter_overrides: {exc}") from None
    parameters: dict[str, str] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key:
            raise ValueError(f"parameter_overrides: {item!r} is not Key=Value")
        parameters[key.strip()] = value
    return parameters


def unknown_parameters(template: Mapping[str, Any], given: Mapping[str, str]) -> list[str]:
    return sorted(set(given) - set(template.get("Parameters", {})))


def missing_parameters(template: Mapping[str, Any], values: Mapping[str, str]) -> list[str]:
    return sorted(set(template.get("Parameters", {})) - set(values))


def broken_rules(template: Mapping[str, Any], values: Mapping[str, str]) -> list[tuple[str, str]]:
    """(rule name, assertion description) for each assertion of the template's Rules that fails."""
    resolver = emulator.Resolver(
        dict(template), values, "preflight", ref=_no_resources, get_att=lambda *_: _no_resources("")
    )
    broken = []
    for name, rule in template.get("Rules", {}).items():
        _supported(rule)
        if "RuleCondition" in rule and not resolver.resolve(rule["RuleCondition"]):
            continue
        for assertion in rule.get("Assertions", []):
            if not resolver.resolve(assertion["Assert"]):
                broken.append((name, str(assertion.get("AssertDescription", name)).strip()))
    return broken


def _no_resources(name: str) -> str:
    raise ValueError(f"a template rule refers to {name!r}, which is not a parameter")


def _supported(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _UNSUPPORTED:
                raise ValueError(f"qas doctor cannot evaluate {key} in the template's Rules")
            _supported(value)
    elif isinstance(node, list):
        for item in node:
            _supported(item)
