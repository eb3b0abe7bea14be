"""EC2 termination notices through the loopback IMDSv2 stub: the worker drains, then lets the instance go."""

from __future__ import annotations

import json
import signal

import pytest

from qas.emulator.metadata_stubs import ImdsStub
from tests.worker.aws_proxy import AwsProxy
from tests.worker.conftest import Aws, job, wait_until
from worker.termination import TERMINATING_EXIT_CODE

pytestmark = pytest.mark.slow

HOOK = "drain-before-terminate"


def _ec2_worker(start_worker, queue_url: str, imds: ImdsStub, proxy: AwsProxy, **settings: str):
    return start_worker(
        queue_url,
        AWS_ENDPOINT_URL=proxy.url,  # moto lacks the lifecycle-action calls: the proxy answers them
        WORKER_PLATFORM="EC2",
        FLEET_NAME="fleet",
        WORKER_IMDS_ENDPOINT=imds.url,
        WORKER_LIFECYCLE_HOOK_NAME=HOOK,
        WORKER_TERMINATION_POLL_SECONDS="0.2",
        WORKER_VISIBILITY_TIMEOUT="30",
        **settings,
    )


def test_lifecycle_notice_drains_then_completes_the_lifecycle_action(aws: Aws, start_worker, moto_url: str):
    # Given a busy worker on an instance of the group: a short job and one too long for the grace
    instance_id = aws.ec2_fleet()
    queue_url, _ = aws.queue(visibility=30)
    aws.send(queue_url, [job("short", 1.5), job("long", 600)])
    with ImdsStub(instance_id) as imds, AwsProxy(moto_url) as proxy:
        worker = _ec2_worker(
            start_worker, queue_url, imds, proxy, WORKER_CONCURRENCY="2", WORKER_SHUTDOWN_GRACE_SECONDS="4"
        )
        wait_until(lambda: aws.counts(queue_url) == (0, 2), what="both jobs running")

        # When the group starts terminating the instance (instance refresh, scale-in, Spot...): it
        # waits in Terminating:Wait, and the instance metadata's target state is Terminated
        proxy.lifecycle.states[instance_id] = "Terminating:Wait"
        imds.lifecycle_state = "Terminated"

        # Then: the notice is seen, nothing more is received, the short job finishes, the long one
        # is released at the end of the grace, the lifecycle action is completed, and it exits with
        # the code systemd does not restart
        assert worker.wait(timeout=60) == TERMINATING_EXIT_CODE
        assert worker.logs("shutdown requested", reason="auto scaling lifecycle: target state Terminated")
        assert [line["job_id"] for line in worker.outcomes("processed")] == ["short"]
        assert [(line["job_id"], line["visibility_s"]) for line in worker.outcomes("released")] == [
            ("long", 0)
        ]
        assert aws.counts(queue_url) == (1, 0), "the long job is back in the queue at once"
        expected = {"LifecycleHookName": HOOK, "AutoScalingGroupName": "fleet", "InstanceId": instance_id}
        assert [call["Action"] for call in proxy.lifecycle_calls] == [
            "RecordLifecycleActionHeartbeat",
            "CompleteLifecycleAction",
        ]
        assert all(expected.items() <= call.items() for call in proxy.lifecycle_calls)
        assert proxy.lifecycle_calls[-1]["LifecycleActionResult"] == "CONTINUE"
        assert worker.logs("lifecycle action completed")
        assert proxy.lifecycle.states[instance_id] == "Terminating:Proceed"

        # And a worker restarted on the terminating instance (after a crash, or by hand) takes
        # nothing and does not complete the action again: the group no longer waits for it
        again = _ec2_worker(start_worker, queue_url, imds, proxy)
        assert again.wait(timeout=60) == TERMINATING_EXIT_CODE
        assert not again.logs("receiving"), "no receive at all"
        assert again.logs("no lifecycle action to complete", lifecycle_state="Terminating:Proceed")
        assert len(proxy.lifecycle.of("CompleteLifecycleAction")) == 1
        assert aws.counts(queue_url) == (1, 0)
        assert [json.loads(body)["job_id"] for body in aws.drain(queue_url)] == ["long"]


def test_spot_notice_starts_the_same_drain(aws: Aws, start_worker, moto_url: str):
    instance_id = aws.ec2_fleet()
    queue_url, _ = aws.queue(visibility=30)
    aws.send(queue_url, [job("running", 1.5)])
    with ImdsStub(instance_id) as imds, AwsProxy(moto_url) as proxy:
        worker = _ec2_worker(start_worker, queue_url, imds, proxy, WORKER_SHUTDOWN_GRACE_SECONDS="30")
        wait_until(lambda: aws.counts(queue_url) == (0, 1), what="job running")
        assert imds.notice_reads["spot"] >= 1, "polled before the notice"

        imds.interrupt_spot()
        aws.send(queue_url, [job("after-notice", 0)])

        assert worker.wait(timeout=60) == TERMINATING_EXIT_CODE
        reasons = [line["reason"] for line in worker.logs("shutdown requested")]
        assert len(reasons) == 1 and reasons[0].startswith("spot interruption notice: terminate at ")
        assert [line["job_id"] for line in worker.outcomes("processed")] == ["running"]
        # Not terminated by the group (lifecycle state InService): no lifecycle action to complete.
        assert proxy.lifecycle_calls == []
        assert [json.loads(body)["job_id"] for body in aws.drain(queue_url)] == ["after-notice"]


def test_sigterm_on_a_local_worker_never_reads_the_metadata(aws: Aws, start_worker):
    queue_url, _ = aws.queue(visibility=30)
    with ImdsStub("i-0123456789abcdef0") as imds:
        worker = start_worker(queue_url, WORKER_IMDS_ENDPOINT=imds.url, WORKER_TERMINATION_POLL_SECONDS="0.1")
        worker.wait_log("receiving")
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0
    assert imds.notice_reads == {"spot": 0, "lifecycle": 0}
