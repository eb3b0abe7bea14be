"""Typed settings from environment variables, validated once, with errors naming the variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from queue_autoscaler.common.platform import Platform as Platform  # noqa: PLC0414 (re-exported)

DEFAULT_NAMESPACE = "QueueAutoscaler"


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the environment variable."""


class EnvModel(BaseModel):
    """Base for settings: fields are aliased to their environment variable names."""

    # Only the variable names count: a stray lowercase `platform` in the environment must not.
    model_config = ConfigDict(frozen=True, extra="ignore")


SettingsT = TypeVar("SettingsT", bound=EnvModel)


def load_settings(model: type[SettingsT], environ: Mapping[str, str] | None = None) -> SettingsT:
    """Parse `environ` (default: os.environ) into `model`.

    Empty variables count as unset, so a template that passes "" for an unused setting
    (ECS_CLUSTER on EC2) gets the default rather than a parse error.
    """
    source = os.environ if environ is None else environ
    values = {key: value for key, value in source.items() if value.strip() != ""}
    try:
        return model.model_validate(values)
    except ValidationError as err:
        raise ConfigError(_describe(model, err)) from None


def _describe(model: type[EnvModel], err: ValidationError) -> str:
    problems = []
    for error in err.errors():
        message = error["msg"].removeprefix("Value error, ")
        if not error["loc"]:  # a model-level check: its message names the variables itself
            problems.append(message)
            continue
        field = str(error["loc"][0])
        info = model.model_fields.get(field)
        variable = info.alias if info and info.alias else field
        inner = ".".join(str(part) for part in error["loc"][1:])  # inside a JSON setting
        if error["type"] == "missing" and not inner:
            problems.append(f"{variable} is required")
            continue
        where = f"{variable} ({inner})" if inner else variable
        if "input" in error and not isinstance(error["input"], Mapping):
            problems.append(f"{where}: {message}, got {error['input']!r}")
        else:
            problems.append(f"{where}: {message}")
    return "; ".join(problems)


class NamespaceSettings(EnvModel):
    """The metrics namespace: the template's Globals set it for Powertools and for PutMetricData."""

    namespace: str = Field(default=DEFAULT_NAMESPACE, alias="POWERTOOLS_METRICS_NAMESPACE", min_length=1)
    # Lambda sets it: the region of the function, so of the stack (empty outside Lambda: not checked).
    region: str = Field(default="", alias="AWS_REGION")
