"""Which region an SQS queue is in, and the rule that the stack's queues are in the stack's region.

botocore sends every call to the client's own regional endpoint, whatever region the QueueUrl names
(tests/unit/test_regions.py shows it), and a CloudWatch alarm watches metrics of its own region
only: its MetricDataQuery names an AccountId for another account but has no Region
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html). The
stack's SLO alarm could never see AWS/SQS metrics of a queue elsewhere, so a queue in another region
is refused (by `qas doctor preflight` before a deploy, and by each function and the worker at start)
rather than served halfway. The worker applies the same URL rule (worker/clients.py: its image
carries no src/); tests/unit/test_regions.py checks that the two agree.
"""

from __future__ import annotations

import re

_QUEUE_URL = re.compile(
    r"^https://(?:(?:vpce-[a-z0-9-]+\.)?sqs\.(?P<sqs>[a-z0-9-]+)\.(?:vpce\.)?"
    r"|(?P<legacy>[a-z0-9-]+)\.queue\.|queue\.)amazonaws\.com(?:\.cn)?/"
)
_QUEUE_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:(?P<region>[a-z0-9-]+):\d{12}:")


def queue_region(queue: str) -> str | None:
    """The region a queue URL or ARN names; None for anything else (an emulator's URL)."""
    text = queue.strip()
    if arn := _QUEUE_ARN.match(text):
        return arn.group("region")
    if url := _QUEUE_URL.match(text):
        # queue.amazonaws.com is the legacy host of us-east-1.
        return url.group("sqs") or url.group("legacy") or "us-east-1"
    return None


def require_region(variable: str, queue: str, region: str) -> None:
    """ValueError naming `variable` when `queue` names a region other than `region` ("" = unknown)."""
    elsewhere = queue_region(queue)
    if region and elsewhere is not None and elsewhere != region:
        raise ValueError(
            f"{variable}: {queue} is in {elsewhere}, but this stack runs in {region}; the queues must be in"
            " the stack's region (deploy the stack there)"
        )
