"""The metric publisher on moto with several queues, peer fleets on the queue, and a FIFO queue."""

from __future__ import annotations

import boto3
import pytest

from queue_autoscaler.common.settings import ConfigError, load_settings
from queue_autoscaler.metric_publisher import app
from queue_autoscaler.metric_publisher.settings import PublisherSettings, queue_url_from_arn
from tests.integration.conftest import (
    ASG_NAME,
    CLUSTER,
    REGION,
    SERVICE,
    load_event,
    make_asg,
    make_asg_policy,
    make_ecs_service,
    make_queue,
)
from tests.integration.test_metric_publisher import fill_queue, set_env


def arn_of(url: str) -> str:
    sqs = boto3.client("sqs", region_name=REGION)
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def fill_fifo(url: str, groups: int, per_group: int, in_flight_groups: int) -> None:
    """per_group messages in each group; the first message of in_flight_groups groups received."""
    sqs = boto3.client("sqs", region_name=REGION)
    for index in range(groups * per_group):
        group = index % groups
        sqs.send_message(
            QueueUrl=url, MessageBody="{}", MessageGroupId=f"g{group}", MessageDeduplicationId=f"m{index}"
        )
    for _ in range(in_flight_groups):
        assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=600)["Messages"]


def fifo_sample(monkeypatch, context, *, groups, per_group, in_flight_groups, instances):
    """One publisher sample on a FIFO queue, an ASG of 4-slot instances and a policy at target 10."""
    url = make_queue("jobs.fifo")
    fill_fifo(url, groups=groups, per_group=per_group, in_flight_groups=in_flight_groups)
    make_asg(desired=instances)
    make_asg_policy(target=10.0)
    set_env(monkeypatch, "EC2", url, WORKER_CONCURRENCY="4", SCALING_POLICY_NAME="backlog-target-tracking")
    return app.lambda_handler(load_event("metric_publisher"), context)["samples"][0]


def test_several_queues_add_up_with_their_weights(monkeypatch, context):
    # Given a high-priority queue (4 visible, 2 in flight) and a low one whose messages take 3x as long
    high, low = make_queue("high"), make_queue("low")
    fill_queue(high, visible=4, in_flight=2)
    fill_queue(low, visible=2, in_flight=0)
    make_asg(desired=2)
    set_env(monkeypatch, "EC2", high, EXTRA_QUEUE_ARNS=arn_of(low), QUEUE_WEIGHTS="1,3")
    # moto serves the queue under the URL AWS would give it, which the publisher builds from the ARN.
    assert load_settings(PublisherSettings).queue_urls == [high, queue_url_from_arn(arn_of(low))]

    sample = app.lambda_handler(load_event("metric_publisher"), context)["samples"][0]

    # Then (4 + 2x3 visible + 2 in flight) / 2 instances
    assert sample["VisibleMessages"] == 10.0
    assert sample["InFlightMessages"] == 2.0
    assert sample["BacklogPerInstance"] == 6.0


def test_peer_fleets_divide_the_shared_backlog(monkeypatch, context):
    # Given blue (2 InService) and green (1 InService) on one queue holding 12 messages
    url = make_queue()
    fill_queue(url, visible=12, in_flight=0)
    make_asg(desired=2)
    make_asg(desired=1, name="green-workers")
    set_env(monkeypatch, "EC2", url, PEER_FLEETS="green-workers,not-deployed-yet")

    sample = app.lambda_handler(load_event("metric_publisher"), context)["samples"][0]

    # Then blue divides by 3, not 2; a peer that does not exist counts as 0 running
    assert sample["RunningCapacity"] == 2.0
    assert sample["PeerRunningCapacity"] == 1.0
    assert sample["BacklogPerInstance"] == 4.0


def test_fifo_backlog_is_capped_at_what_the_groups_can_use(monkeypatch, context):
    # Given 3 groups of 20 messages, one message of each in flight, 3 instances x 4 slots, target 10
    sample = fifo_sample(monkeypatch, context, groups=3, per_group=20, in_flight_groups=3, instances=3)

    # Then 60 messages / 3 = 20 per instance would double the fleet; the groups can use 3 + 1 slots,
    # one instance: the metric is 10 x 1 / 3, so target tracking asks for 1 instance.
    assert sample["VisibleMessages"] == 57.0
    assert sample["InFlightMessages"] == 3.0
    assert sample["BacklogPerInstance"] == pytest.approx(10 / 3)
    assert sample["GroupBoundBacklogCeiling"] == pytest.approx(10 / 3)


def test_fifo_with_every_slot_busy_scales_normally(monkeypatch, context):
    # Given 8 groups in flight on 2 instances x 4 slots: no idle slot, so groups are plentiful
    sample = fifo_sample(monkeypatch, context, groups=10, per_group=3, in_flight_groups=8, instances=2)

    assert sample["BacklogPerInstance"] == 15.0
    assert "GroupBoundBacklogCeiling" not in sample


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"EXTRA_QUEUE_ARNS": "https://not-an-arn"}, "EXTRA_QUEUE_ARNS"),
        ({"QUEUE_WEIGHTS": "1,2"}, "QUEUE_WEIGHTS has 2 values for 1 queues"),
        ({"QUEUE_WEIGHTS": "x"}, "QUEUE_WEIGHTS"),
        ({"QUEUE_WEIGHTS": "0"}, "QUEUE_WEIGHTS"),
        ({"PEER_FLEETS": ASG_NAME}, "PEER_FLEETS names this fleet itself"),
    ],
)
def test_bad_lists_name_the_setting(monkeypatch, extra, message):
    set_env(monkeypatch, "EC2", "https://sqs.us-east-1.amazonaws.com/123456789012/work", **extra)
    with pytest.raises(ConfigError, match=message):
        load_settings(PublisherSettings)


def test_fifo_needs_the_policy_name(monkeypatch):
    set_env(monkeypatch, "EC2", "https://sqs.us-east-1.amazonaws.com/123456789012/work.fifo")
    with pytest.raises(ConfigError, match="SCALING_POLICY_NAME is required with a FIFO queue"):
        load_settings(PublisherSettings)


def test_arn_to_url_follows_the_partition():
    assert queue_url_from_arn("arn:aws-cn:sqs:cn-north-1:123456789012:q") == (
        "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q"
    )
    with pytest.raises(ValueError):
        queue_url_from_arn("arn:aws:sns:us-east-1:123456789012:q")


def test_ecs_peer_in_another_cluster_and_a_deleted_one(monkeypatch, context):
    # Given our ECS service with 2 running tasks and a green service in another cluster with 1
    url = make_queue()
    fill_queue(url, visible=9, in_flight=0)
    make_ecs_service(desired=2)
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="green")
    network = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0][
        "networkConfiguration"
    ]
    ecs.create_service(
        cluster="green",
        serviceName="green-svc",
        taskDefinition="worker",
        desiredCount=0,
        launchType="FARGATE",
        networkConfiguration=network,
    )
    ecs.update_service(cluster="green", service="green-svc", desiredCount=1)
    set_env(monkeypatch, "ECS", url, PEER_FLEETS="green/green-svc,gone-cluster/old-svc")

    sample = app.lambda_handler(load_event("metric_publisher"), context)["samples"][0]

    # Then 9 messages over 3 running tasks; the peer whose cluster is gone counts 0
    assert sample["PeerRunningCapacity"] == 1.0
    assert sample["BacklogPerInstance"] == 3.0
