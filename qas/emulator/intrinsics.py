"""CloudFormation's intrinsic functions (Ref, Sub, GetAtt, If, Select, Split, Join, conditions)
resolved against one deployed stack."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from qas.emulator.account import ACCOUNT_ID, PARTITION, REGION, JsonDict


def getatt_parts(value: Any) -> tuple[str, str]:
    if isinstance(value, str):
        target, _, attribute = value.partition(".")
        return target, attribute
    return str(value[0]), str(value[1])


class _NoValue:
    """AWS::NoValue: the property is removed."""


NO_VALUE = _NoValue()


class Resolver:
    """Resolves CloudFormation intrinsic functions against one deployed stack."""

    def __init__(
        self,
        template: JsonDict,
        parameters: Mapping[str, str],
        stack_name: str,
        ref: Callable[[str], str],
        get_att: Callable[[str, str], str],
    ) -> None:
        self._template = template
        self._stack_name = stack_name
        self._ref = ref
        self._get_att = get_att
        self._parameters: dict[str, Any] = {}
        for name, spec in template.get("Parameters", {}).items():
            if name not in parameters:
                continue
            value = parameters[name]
            kind = str(spec.get("Type", "String"))
            is_list = kind.startswith("List<") or kind == "CommaDelimitedList"
            self._parameters[name] = [item.strip() for item in value.split(",")] if is_list else value
        self._conditions: dict[str, bool] = {}

    def pseudo(self, name: str) -> str:
        return {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::StackName": self._stack_name,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{self._stack_name}/emulated",
        }[name]

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self._template["Conditions"][name]))
        return self._conditions[name]

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in (self.resolve(value) for value in node) if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, value), *_ = node.items()
            handler = self._functions().get(key)
            if handler is not None:
                return handler(value)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self._fn_ref,
            "Fn::GetAtt": lambda value: self._get_att(*getatt_parts(self.resolve(value))),
            "Fn::Sub": self._fn_sub,
            "Fn::Join": lambda value: str(self.resolve(value[0])).join(
                str(item) for item in self.resolve(value[1])
            ),
            "Fn::Select": lambda value: self.resolve(value[1])[int(self.resolve(value[0]))],
            "Fn::Split": lambda value: str(self.resolve(value[1])).split(str(self.resolve(value[0]))),
            "Fn::If": lambda value: self.resolve(value[1] if self.condition(value[0]) else value[2]),
            "Fn::Equals": lambda value: str(self.resolve(value[0])) == str(self.resolve(value[1])),
            "Fn::Not": lambda value: not self.resolve(value[0]),
            "Fn::And": lambda value: all(self.resolve(item) for item in value),
            "Fn::Or": lambda value: any(self.resolve(item) for item in value),
            "Condition": self.condition,
        }

    def _fn_ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self._parameters:
            return self._parameters[name]
        return self._ref(name)

    def _fn_sub(self, value: Any) -> str:
        if isinstance(value, str):
            text, variables = value, {}
        else:
            text, variables = value[0], {key: self.resolve(item) for key, item in value[1].items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name:
                return str(self._get_att(*getatt_parts(name)))
            resolved = self._fn_ref(name)
            return ",".join(resolved) if isinstance(resolved, list) else str(resolved)

        return re.sub(r"\$\{([^}]+)\}", replace, text)
