"""Parliament on every IAM policy of the translated template: nothing left but explained skips."""

from __future__ import annotations

import json

import parliament
import pytest

from lint import iam_parliament

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_every_policy_passes_or_is_skipped_with_a_reason() -> None:
    found = iam_parliament.findings()
    assert iam_parliament.unexplained(found) == []
    # Each skip is used (a stale one would hide nothing and explain nothing) and has a reason.
    used = {(f.policy, f.issue, "*") for f in found} | {
        (f.resource, f.issue, a) for f in found for a in f.actions
    }
    assert set(iam_parliament.SKIPS) <= used
    assert all(len(reason) > 40 for reason in iam_parliament.SKIPS.values())


def test_every_role_of_every_variant_is_analysed() -> None:
    analysed = {
        resource
        for variant in iam_parliament.VARIANTS.values()
        for resource, _, _ in iam_parliament.policies(variant)
    }
    assert {
        "WorkerInstanceRole",
        "TaskRole",
        "TaskExecutionRole",
        "FleetRolloutFunctionRole",
    } <= analysed  # (a service-linked role has no policy of the stack's)
    assert {
        "TargetTunerFunctionRole",
        "ProducerFunctionRole",
        "MetricPublisherFunctionRole",
        "AlarmKey",
    } <= analysed


def test_parliament_does_flag_a_wrong_policy() -> None:
    # The linter is live: an action on a resource of another service is reported.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sqs:ReceiveMessage",
                "Resource": "arn:aws:ecr:us-east-1:123456789012:repository/w",
            }
        ],
    }
    issues = {f.issue for f in parliament.analyze_policy_string(json.dumps(policy)).findings}
    assert "RESOURCE_MISMATCH" in issues
