"""The SAM template as plain CloudFormation: samtranslator, offline, in the fixed fake account."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import boto3
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

from qas.emulator.account import ACCOUNT_ID, CODE_BUCKET, CODE_KEY, PARTITION, REGION, TEMPLATE_PATH, JsonDict


def _no_managed_policy_names() -> dict[str, str]:
    """The template names managed policies by ARN; nothing needs IAM's list of policy names."""
    return {}


def load_template(template_path: Path = TEMPLATE_PATH) -> JsonDict:
    """The SAM template as a dict, with the short intrinsic forms expanded (!Ref -> {"Ref": ...})."""
    return cast(JsonDict, yaml_parse(template_path.read_text()))


def translate(template_path: Path = TEMPLATE_PATH, parameters: Mapping[str, str] | None = None) -> JsonDict:
    """The SAM template translated to plain CloudFormation, offline.

    Local ``CodeUri`` paths become ``s3://CODE_BUCKET/CODE_KEY`` as ``sam package`` would make them
    (``deploy`` uploads the bundle there).
    """
    sam = load_template(template_path)
    globals_ = sam.get("Globals", {}).get("Function", {})
    if "CodeUri" in globals_ and not str(globals_["CodeUri"]).startswith("s3://"):
        globals_["CodeUri"] = f"s3://{CODE_BUCKET}/{CODE_KEY}"
    for resource in sam["Resources"].values():
        props = resource.get("Properties") or {}
        code_uri = props.get("CodeUri")
        is_function = resource["Type"] == "AWS::Serverless::Function"
        if is_function and isinstance(code_uri, str) and not code_uri.startswith("s3://"):
            props["CodeUri"] = f"s3://{CODE_BUCKET}/{CODE_KEY}"
    values: dict[str, Any] = {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": PARTITION,
        "AWS::StackName": "emulated",
        "AWS::URLSuffix": "amazonaws.com",
    }
    values.update(parameters or {})
    # Translator instead of samtranslator's transform(): it takes a session, so the region does not
    # come from the environment.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    try:
        translated = translator.translate(
            sam, parameter_values=values, get_managed_policy_map=_no_managed_policy_names
        )
    except InvalidDocumentException as error:
        messages = "; ".join(str(cause) for cause in error.causes)
        raise ValueError(f"SAM translation failed: {messages}") from error
    # The transform's output is JSON-safe except for the odd tuple; normalise it once.
    return cast(JsonDict, json.loads(json.dumps(translated)))
