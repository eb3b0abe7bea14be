"""The emulator's intrinsic-function resolver (pure: no server), on the template's own idioms."""

from __future__ import annotations

import pytest

from qas import emulator

TEMPLATE = {
    "Parameters": {
        "Arn": {"Type": "String", "Default": ""},
        "Types": {"Type": "CommaDelimitedList"},
        "Fifo": {"Type": "String"},
    },
    "Conditions": {
        "HasArn": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Arn"}, ""]}]},
        "IsFifo": {"Fn::Equals": [{"Ref": "Fifo"}, "true"]},
        "Both": {"Fn::And": [{"Condition": "HasArn"}, {"Condition": "IsFifo"}]},
    },
}
# The template's way to read part of an optional ARN: padded, so an empty one still has 6 parts.
QUEUE_NAME = {"Fn::Select": [5, {"Fn::Split": [":", {"Fn::Sub": "${Arn}:::::"}]}]}


def resolver(**parameters: str) -> emulator.Resolver:
    def ref(logical_id: str) -> str:
        return f"physical-{logical_id}"

    def get_att(logical_id: str, attribute: str) -> str:
        return f"{logical_id}.{attribute}"

    return emulator.Resolver(TEMPLATE, parameters, "my-stack", ref, get_att)


@pytest.mark.parametrize(
    ("arn", "name"), [("arn:aws:sqs:us-east-1:123456789012:jobs.fifo", "jobs.fifo"), ("", "")]
)
def test_select_split_reads_an_optional_arn(arn: str, name: str) -> None:
    assert resolver(Arn=arn, Fifo="false").resolve(QUEUE_NAME) == name


def test_sub_with_variables_pseudo_parameters_getatt_and_escapes() -> None:
    node = {
        "Fn::Sub": [
            "${AWS::StackName}-${Name} ${Queue.Arn} ${Other} ${!Literal} ${AWS::Region}",
            {"Name": {"Ref": "Fifo"}},
        ]
    }
    assert resolver(Fifo="true").resolve(node) == (
        "my-stack-true Queue.Arn physical-Other ${Literal} us-east-1"
    )


def test_conditions_if_and_no_value() -> None:
    node = {
        "Keep": {"Fn::If": ["Both", "fifo-with-arn", "other"]},
        "Dropped": {"Fn::If": ["IsFifo", "x", {"Ref": "AWS::NoValue"}]},
        "List": [{"Fn::If": ["IsFifo", "x", {"Ref": "AWS::NoValue"}]}, "y"],
    }
    assert resolver(Arn="arn:aws:sqs:us-east-1:1:q", Fifo="false").resolve(node) == {
        "Keep": "other",
        "List": ["y"],
    }
    assert resolver(Arn="arn:aws:sqs:us-east-1:1:q", Fifo="true").resolve(node)["Keep"] == "fifo-with-arn"


def test_list_parameters_are_lists() -> None:
    node = {"Fn::Join": ["|", {"Ref": "Types"}]}
    assert resolver(Types="c6i.large, m6i.large", Fifo="false").resolve(node) == "c6i.large|m6i.large"
    assert resolver(Types="a,b", Fifo="false").resolve({"Fn::Select": [1, {"Ref": "Types"}]}) == "b"
