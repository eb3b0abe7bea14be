"""EC2 warm pool: a worker on an instance launched into the pool completes the launch action in
Warmed:Pending:Wait without taking work, and consumes (completing the action again in Pending:Wait
after its first receive) only once the instance leaves the pool. The instance metadata is the loopback
IMDSv2 stub; the lifecycle calls go to the test proxy's model of them (tests/worker/lifecycle_model.py)."""

from __future__ import annotations

import json
import signal
import threading

import boto3
import pytest

from qas.emulator.metadata_stubs import ImdsStub
from tests.worker.aws_proxy import AwsProxy
from tests.worker.conftest import NO_RETRY, REGION, Aws, job, wait_until
from tests.worker.ec2_worker import LAUNCH_HOOK, start_ec2_worker
from worker.imds import Imds
from worker.lifecycle import LifecycleActions
from worker.termination import TERMINATING_EXIT_CODE
from worker.warm_pool import WarmPoolExit, WarmPoolGate, is_warm

pytestmark = pytest.mark.slow


def test_a_worker_launched_into_the_pool_lets_it_stop_and_takes_nothing(
    aws: Aws, start_worker, moto_url: str
):
    # Given an instance launched into a Stopped warm pool, waiting in Warmed:Pending:Wait, and work queued
    instance_id = aws.ec2_fleet()
    queue_url, _ = aws.queue(visibility=30)
    aws.send(queue_url, [job("queued", 0.1)])
    with ImdsStub(instance_id) as imds, AwsProxy(moto_url) as proxy:
        proxy.lifecycle.states[instance_id] = "Warmed:Pending:Wait"
        imds.lifecycle_state = "Warmed:Stopped"

        # When its worker starts (user data runs at pool entry)
        worker = start_ec2_worker(start_worker, queue_url, imds, proxy)

        # Then it completes the launch action with CONTINUE, so Auto Scaling can stop the instance
        (completed,) = wait_until(
            lambda: proxy.lifecycle.of("CompleteLifecycleAction", LAUNCH_HOOK), what="warm completion"
        )
        assert completed["LifecycleActionResult"] == "CONTINUE"
        assert proxy.lifecycle.states[instance_id] == "Warmed:Stopped"
        worker.wait_log("launched into the warm pool: completing the launch action without taking work")

        # And the stop (SIGTERM) ends it without a single receive
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0
        assert proxy.calls["sqs.ReceiveMessage"] == 0
    assert [json.loads(body)["job_id"] for body in aws.drain(queue_url)] == ["queued"]


def test_a_hibernated_worker_resumes_into_service_and_completes_the_launch_again(
    aws: Aws, start_worker, moto_url: str
):
    # Given a worker that completed its warm-pool action and waits, frozen, in a Hibernated pool
    instance_id = aws.ec2_fleet()
    queue_url, _ = aws.queue(visibility=30)
    aws.send(queue_url, [job("after-pool", 0.1)])
    with ImdsStub(instance_id) as imds, AwsProxy(moto_url) as proxy:
        proxy.lifecycle.states[instance_id] = "Warmed:Pending:Wait"
        imds.lifecycle_state = "Warmed:Hibernated"
        worker = start_ec2_worker(start_worker, queue_url, imds, proxy)
        wait_until(lambda: proxy.lifecycle.of("CompleteLifecycleAction", LAUNCH_HOOK), what="warm completion")
        assert proxy.calls["sqs.ReceiveMessage"] == 0

        # When the group takes it: it resumes into Pending:Wait with the target state InService
        proxy.lifecycle.states[instance_id] = "Pending:Wait"
        imds.lifecycle_state = "InService"

        # Then it consumes, and completes the action a second time, after its first receive
        worker.wait_log("message processed", job_id="after-pool")
        first, second = wait_until(
            lambda: (
                proxy.lifecycle.of("CompleteLifecycleAction", LAUNCH_HOOK)[1:]
                and proxy.lifecycle.of("CompleteLifecycleAction", LAUNCH_HOOK)
            ),
            what="in-service completion",
        )
        assert (first["LifecycleActionResult"], second["LifecycleActionResult"]) == ("CONTINUE", "CONTINUE")
        completions = [
            i for i, call in enumerate(proxy.sequence) if call == "autoscaling.CompleteLifecycleAction"
        ]
        assert completions[0] < proxy.sequence.index("sqs.ReceiveMessage") < completions[1]
        assert proxy.lifecycle.states[instance_id] == "InService"
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0


def test_a_pool_instance_being_removed_exits_for_good_with_nothing_taken(
    aws: Aws, start_worker, moto_url: str
):
    instance_id = aws.ec2_fleet()
    queue_url, _ = aws.queue(visibility=30)
    with ImdsStub(instance_id) as imds, AwsProxy(moto_url) as proxy:
        imds.lifecycle_state = "Warmed:Terminated"
        worker = start_ec2_worker(start_worker, queue_url, imds, proxy)
        # The unit's RestartPreventExitStatus: systemd does not start it again
        assert worker.wait() == TERMINATING_EXIT_CODE
        assert proxy.calls["sqs.ReceiveMessage"] == 0
        assert proxy.lifecycle.of("CompleteLifecycleAction") == []


def test_the_gate_lets_an_instance_outside_the_pool_consume_at_once(aws: Aws, moto_url: str):
    instance_id = aws.ec2_fleet()
    with ImdsStub(instance_id) as imds, AwsProxy(moto_url) as proxy:
        autoscaling = boto3.client("autoscaling", endpoint_url=proxy.url, region_name=REGION, config=NO_RETRY)
        gate = WarmPoolGate(
            Imds(imds.url),
            LifecycleActions(autoscaling, "fleet", lambda: instance_id),
            LAUNCH_HOOK,
            poll_seconds=0.05,
        )
        imds.lifecycle_state = "InService"
        assert gate.wait() is WarmPoolExit.CONSUME
        assert imds.notice_reads["lifecycle"] == 1
        assert proxy.lifecycle_calls == []


def test_the_gate_keeps_asking_while_the_metadata_cannot_be_read(aws: Aws, moto_url: str):
    # Given a metadata endpoint that refuses the token at first (a guess would be to consume)
    instance_id = aws.ec2_fleet()
    with ImdsStub(instance_id) as imds, AwsProxy(moto_url) as proxy:
        autoscaling = boto3.client("autoscaling", endpoint_url=proxy.url, region_name=REGION, config=NO_RETRY)
        gate = WarmPoolGate(
            Imds(imds.url + "/broken"),
            LifecycleActions(autoscaling, "fleet", lambda: instance_id),
            LAUNCH_HOOK,
            poll_seconds=0.05,
        )
        outcome: list[WarmPoolExit] = []
        waiting = threading.Thread(target=lambda: outcome.append(gate.wait()))
        waiting.start()
        waiting.join(timeout=0.5)
        # Then it is still waiting, having completed nothing, until told to stop
        assert waiting.is_alive() and outcome == []
        gate.stop()
        waiting.join(timeout=5)
        assert outcome == [WarmPoolExit.STOPPED]
        assert proxy.lifecycle_calls == []


@pytest.mark.parametrize(
    ("state", "warm"),
    [
        ("Warmed:Stopped", True),
        ("Warmed:Hibernated", True),
        ("Warmed:Running", True),
        ("Warmed:Terminated", True),
        ("InService", False),
        ("Terminated", False),
        (None, False),
    ],
)
def test_warm_states_are_the_warmed_ones(state: str | None, warm: bool) -> None:
    assert is_warm(state) is warm
