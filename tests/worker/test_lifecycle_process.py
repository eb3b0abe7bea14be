"""EC2 lifecycle hooks: the launch action is completed when the worker can take work (its first
successful receive) and never twice; the termination action is heartbeated for as long as the drain
lasts. The instance metadata is the loopback IMDSv2 stub; the lifecycle calls, which moto lacks, go
to the test proxy's model of them (tests/worker/lifecycle_model.py)."""

from __future__ import annotations

import signal

import boto3
import pytest

from qas.emulator.metadata_stubs import ImdsStub
from tests.worker.aws_proxy import AwsProxy, Fault
from tests.worker.conftest import NO_RETRY, REGION, Aws, job, wait_until
from tests.worker.ec2_worker import LAUNCH_HOOK, TERMINATION_HOOK, start_ec2_worker
from worker.imds import Imds
from worker.lifecycle import LifecycleActions
from worker.termination import TERMINATING_EXIT_CODE, TerminationWatcher

pytestmark = pytest.mark.slow


def test_the_launch_action_is_completed_after_the_first_receive_and_only_once(
    aws: Aws, start_worker, moto_url: str
):
    # Given an instance the group holds in Pending:Wait, and work in the queue
    instance_id = aws.ec2_fleet()
    queue_url, _ = aws.queue(visibility=30)
    aws.send(queue_url, [job("first", 0.2)])
    with ImdsStub(instance_id) as imds, AwsProxy(moto_url) as proxy:
        proxy.lifecycle.states[instance_id] = "Pending:Wait"

        # When its worker starts
        worker = start_ec2_worker(start_worker, queue_url, imds, proxy)

        # Then it completes the launch action with CONTINUE once it has received from the queue
        (completed,) = wait_until(
            lambda: proxy.lifecycle.of("CompleteLifecycleAction", LAUNCH_HOOK), what="launch completion"
        )
        assert completed["LifecycleActionResult"] == "CONTINUE"
        assert (completed["InstanceId"], completed["AutoScalingGroupName"]) == (instance_id, "fleet")
        receive = proxy.sequence.index("sqs.ReceiveMessage")
        assert receive < proxy.sequence.index("autoscaling.CompleteLifecycleAction")
        assert proxy.lifecycle.states[instance_id] == "InService"
        worker.wait_log("message processed", job_id="first")
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0, "a plain SIGTERM is not a termination"

        # And a worker started again on the InService instance (systemd after a crash) receives,
        # finds no action waiting, and completes nothing
        again = start_ec2_worker(start_worker, queue_url, imds, proxy)
        again.wait_log("no lifecycle action to complete", lifecycle_state="InService")
        again.signal(signal.SIGTERM)
        assert again.wait() == 0
    assert len(proxy.lifecycle.of("CompleteLifecycleAction")) == 1


def test_a_worker_that_cannot_receive_never_puts_its_instance_in_service(
    aws: Aws, start_worker, moto_url: str
):
    # Given an instance in Pending:Wait whose worker cannot reach the queue (every receive fails)
    instance_id = aws.ec2_fleet()
    queue_url, _ = aws.queue(visibility=30)
    with ImdsStub(instance_id) as imds, AwsProxy(moto_url) as proxy:
        proxy.lifecycle.states[instance_id] = "Pending:Wait"
        proxy.fault(Fault("sqs", frozenset({"ReceiveMessage"}), status=503))
        worker = start_ec2_worker(start_worker, queue_url, imds, proxy, AWS_MAX_ATTEMPTS="1")

        # When it has tried several times
        wait_until(lambda: proxy.calls["sqs.ReceiveMessage"] >= 3, what="three failed receives")
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0

    # Then the launch action is left to the hook's timeout (ABANDON terminates the instance)
    assert proxy.lifecycle.of("CompleteLifecycleAction") == []
    assert proxy.lifecycle.states[instance_id] == "Pending:Wait"


def test_the_termination_action_is_heartbeated_until_the_drain_is_over(aws: Aws, moto_url: str):
    # Given a worker's termination watcher, heartbeating every 0.05 s (the real one: every 30 s)
    instance_id = aws.ec2_fleet()
    with ImdsStub(instance_id) as imds, AwsProxy(moto_url) as proxy:
        autoscaling = boto3.client("autoscaling", endpoint_url=proxy.url, region_name=REGION, config=NO_RETRY)
        lifecycle = LifecycleActions(autoscaling, "fleet", lambda: instance_id)
        watcher = TerminationWatcher(
            Imds(imds.url), lifecycle, TERMINATION_HOOK, poll_seconds=0.05, heartbeat_seconds=0.05
        )
        # When the group terminates the instance and the drain takes longer than several intervals
        proxy.lifecycle.states[instance_id] = "Terminating:Wait"
        imds.lifecycle_state = "Terminated"
        assert watcher.check() == "auto scaling lifecycle: target state Terminated"
        heartbeats = lambda: proxy.lifecycle.of("RecordLifecycleActionHeartbeat", TERMINATION_HOOK)  # noqa: E731
        wait_until(lambda: len(heartbeats()) >= 4, what="heartbeats while draining")

        # Then the heartbeats go on until the drain ends, and the completion comes after the last one
        watcher.complete_if_terminating()
        sent = len(heartbeats())
        calls = [call["Action"] for call in proxy.lifecycle_calls]
        assert calls == ["RecordLifecycleActionHeartbeat"] * sent + ["CompleteLifecycleAction"]
        assert proxy.lifecycle.states[instance_id] == "Terminating:Proceed"
        assert watcher.terminating
        assert TERMINATING_EXIT_CODE != 0
