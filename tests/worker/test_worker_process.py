"""The worker as a real subprocess against a moto server: nothing is ever lost."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from qas.emulator.metadata_stubs import EcsAgentStub, ImdsStub
from tests.worker.conftest import Aws, job, wait_until

pytestmark = pytest.mark.slow


def test_none_lost_with_several_workers(aws: Aws, start_worker):
    # Given three workers long-polling one queue with a DLQ
    queue_url, dlq_url = aws.queue(visibility=5, max_receive_count=2)
    assert dlq_url is not None
    workers = [
        start_worker(queue_url, WORKER_CONCURRENCY="4", WORKER_VISIBILITY_TIMEOUT="5") for _ in range(3)
    ]
    for worker in workers:
        worker.wait_log("receiving")

    # When good and malformed messages arrive and the workers empty the queue
    good = {f"good-{i}": job(f"good-{i}", 0.01 * (i % 5)) for i in range(60)}
    malformed = [
        "not json",
        json.dumps({"job_id": "no-seconds"}),
        json.dumps({"processing_seconds": "ten"}),
        "[1]",
    ]
    aws.send(queue_url, [*good.values(), *malformed])
    wait_until(
        lambda: aws.counts(queue_url) == (0, 0) and aws.counts(dlq_url)[0] == len(malformed), 90, "drained"
    )
    for worker in workers:
        worker.signal(signal.SIGTERM)
    assert [worker.wait() for worker in workers] == [0, 0, 0]

    # Then every message was processed exactly once or is in the DLQ: processed + DLQ == sent
    processed = [line["job_id"] for worker in workers for line in worker.outcomes("processed")]
    assert sorted(processed) == sorted(good)
    assert sorted(aws.drain(dlq_url)) == sorted(malformed)
    assert all(worker.outcomes("processed") for worker in workers), "all three workers took a share"


def test_sigterm_releases_unstarted_and_lets_running_finish(aws: Aws, start_worker):
    # Given a worker with two slots: one runs a job, the other is long-polling
    queue_url, _ = aws.queue(visibility=60)
    aws.send(queue_url, [job("running", 2)])
    worker = start_worker(
        queue_url,
        WORKER_CONCURRENCY="2",
        WORKER_VISIBILITY_TIMEOUT="60",
        WORKER_WAIT_TIME_SECONDS="10",
        WORKER_SHUTDOWN_GRACE_SECONDS="30",
    )
    worker.wait_log("receiving", free_slots=1)

    # When SIGTERM arrives, and only then do new messages arrive (the poll in flight returns them)
    worker.signal(signal.SIGTERM)
    worker.wait_log("shutdown requested")
    aws.send(queue_url, [job("late-1", 0.1), job("late-2", 0.1)])

    # Then it exits 0 (well within the grace period) ...
    assert worker.wait(timeout=30) == 0
    # ... the running job finished and was deleted ...
    assert [line["job_id"] for line in worker.outcomes("processed")] == ["running"]
    # ... and nothing received after SIGTERM was started: it is visible again at once, although the
    # queue's visibility timeout (60 s) has not passed.
    assert len(worker.outcomes("released")) == 1
    assert worker.outcomes("released")[0]["visibility_s"] == 0
    assert aws.counts(queue_url) == (2, 0)
    assert sorted(json.loads(body)["job_id"] for body in aws.drain(queue_url)) == ["late-1", "late-2"]


def test_sigterm_releases_a_job_still_running_when_the_grace_period_ends(aws: Aws, start_worker):
    queue_url, _ = aws.queue(visibility=60)
    aws.send(queue_url, [job("too-long", 600)])
    worker = start_worker(queue_url, WORKER_VISIBILITY_TIMEOUT="60", WORKER_SHUTDOWN_GRACE_SECONDS="1")
    wait_until(lambda: aws.counts(queue_url) == (0, 1), what="job received")

    worker.signal(signal.SIGTERM)

    assert worker.wait(timeout=30) == 0
    assert [line["receive_count"] for line in worker.outcomes("released")] == [1]
    assert not worker.outcomes("processed")
    assert aws.counts(queue_url) == (1, 0), "released with visibility 0, not left to the 60 s timeout"


def test_kill_9_loses_nothing_another_worker_finishes_the_jobs(aws: Aws, start_worker):
    # Given a worker holding two jobs
    queue_url, _ = aws.queue(visibility=3)
    aws.send(queue_url, [job("a", 1), job("b", 1)])
    first = start_worker(queue_url, WORKER_CONCURRENCY="2", WORKER_VISIBILITY_TIMEOUT="3")
    wait_until(lambda: aws.counts(queue_url) == (0, 2), what="both jobs held")

    # When it is killed with no chance to clean up, and another worker starts
    first.process.send_signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL
    second = start_worker(queue_url, WORKER_CONCURRENCY="2", WORKER_VISIBILITY_TIMEOUT="3")

    # Then the messages reappear after their visibility timeout and the second worker processes them
    wait_until(lambda: len(second.outcomes("processed")) == 2, what="second worker processed both")
    assert sorted(line["job_id"] for line in second.outcomes("processed")) == ["a", "b"]
    assert all(line["receive_count"] == 2 for line in second.outcomes("processed"))
    wait_until(lambda: aws.counts(queue_url) == (0, 0), what="deleted")
    second.signal(signal.SIGTERM)
    assert second.wait() == 0


def test_poison_and_malformed_messages_reach_the_dlq_without_blocking_good_ones(aws: Aws, start_worker):
    # Given one slot, a handler that always fails on "poison", and every kind of malformed body
    queue_url, dlq_url = aws.queue(visibility=5, max_receive_count=3)
    assert dlq_url is not None
    bad = [
        json.dumps({"job_id": "poison", "processing_seconds": 0, "poison": True}),
        "not json at all",
        json.dumps(["a", "list"]),
        json.dumps({"job_id": "missing"}),
        json.dumps({"job_id": "negative", "processing_seconds": -1}),
        json.dumps({"job_id": "boolean", "processing_seconds": True}),
    ]
    good = [job(f"good-{i}", 0.05) for i in range(10)]
    aws.send(queue_url, [*bad, *good])
    worker = start_worker(
        queue_url,
        WORKER_HANDLER="tests.worker.sample_handlers:poison_aware",
        WORKER_VISIBILITY_TIMEOUT="5",
    )

    wait_until(
        lambda: aws.counts(dlq_url)[0] == len(bad) and aws.counts(queue_url) == (0, 0), 90, "all settled"
    )
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0

    # Every good message succeeded on its first receive: the bad ones never held it back.
    processed = worker.outcomes("processed")
    assert sorted(line["job_id"] for line in processed) == [f"good-{i}" for i in range(10)]
    assert {line["receive_count"] for line in processed} == {1}
    assert sorted(aws.drain(dlq_url)) == sorted(bad)
    # The transient failure was retried with a backoff that grows with the receive count (capped).
    assert [line["retry_in_s"] for line in worker.outcomes("failed")] == [1, 2, 4]
    # A malformed message is released at once (no backoff) each time.
    assert len(worker.outcomes("malformed")) == 3 * (len(bad) - 1)


def test_heartbeat_keeps_a_long_job_invisible_past_the_visibility_timeout(aws: Aws, start_worker):
    queue_url, _ = aws.queue(visibility=2)
    aws.send(queue_url, [job("long", 6)])
    worker = start_worker(queue_url, WORKER_VISIBILITY_TIMEOUT="2")
    wait_until(lambda: aws.counts(queue_url) == (0, 1), what="job received")

    # While the job runs (three times the visibility timeout) the message never becomes visible.
    samples = []
    while not worker.outcomes("processed"):
        samples.append(aws.counts(queue_url))
        time.sleep(0.2)
    assert samples and all(sample == (0, 1) for sample in samples[:-1])
    assert all(sample[0] == 0 for sample in samples)

    done = worker.outcomes("processed")[0]
    assert done["receive_count"] == 1
    assert done["duration_s"] > 2, "the job outlived the visibility timeout"
    wait_until(lambda: aws.counts(queue_url) == (0, 0), what="deleted")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0


def test_a_job_over_the_time_limit_is_failed_and_released_with_backoff(aws: Aws, start_worker):
    queue_url, _ = aws.queue(visibility=60)
    aws.send(queue_url, [job("endless", 600)])
    worker = start_worker(
        queue_url,
        WORKER_VISIBILITY_TIMEOUT="60",
        WORKER_MAX_JOB_SECONDS="1",
        WORKER_RETRY_BASE_SECONDS="30",
        WORKER_RETRY_MAX_SECONDS="60",
    )

    timed_out = worker.wait_log(outcome="timeout")

    assert timed_out["visibility_s"] == 30
    worker.wait_log("late result ignored")  # the default handler stopped when cancelled
    wait_until(lambda: aws.counts(queue_url) == (0, 1), what="release applied")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert not worker.outcomes("processed")


def test_metrics_published_in_one_call_with_the_fleet_dimension(aws: Aws, start_worker):
    queue_url, _ = aws.queue(visibility=30)
    aws.send(queue_url, [job(f"m-{i}", 0.1) for i in range(5)] + ["malformed"])
    worker = start_worker(
        queue_url,
        WORKER_CONCURRENCY="3",
        FLEET_NAME="fleet-a",
        METRIC_NAMESPACE="Test/Worker",
        WORKER_COUNT_API_CALLS="true",
    )
    wait_until(lambda: len(worker.outcomes("processed")) == 5, what="processed")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0

    def statistic(name: str, stat: Any) -> float:
        points = aws.cloudwatch.get_metric_statistics(
            Namespace="Test/Worker",
            MetricName=name,
            Dimensions=[{"Name": "FleetName", "Value": "fleet-a"}],
            StartTime=datetime.now(UTC) - timedelta(minutes=10),
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
            Period=60,
            Statistics=[stat],
        )["Datapoints"]
        return float(sum(cast(dict[str, float], point)[stat] for point in points))

    assert statistic("MsgProcessingDuration", "SampleCount") == 5
    assert 0.1 <= statistic("MsgProcessingDuration", "Maximum") < 1
    assert statistic("MessageLatency", "SampleCount") == 5
    assert statistic("MessagesProcessed", "Sum") == 5
    assert statistic("MessagesFailed", "Sum") >= 1  # the malformed one, once per receive
    metrics = aws.cloudwatch.list_metrics(Namespace="Test/Worker")["Metrics"]
    # The running-jobs gauge too when a flush fell while jobs ran (the first flush is jittered)
    assert (
        {"MsgProcessingDuration", "MessageLatency", "MessagesProcessed", "MessagesFailed"}
        <= {m["MetricName"] for m in metrics}
        <= {
            "MsgProcessingDuration",
            "MessageLatency",
            "MessagesProcessed",
            "MessagesFailed",
            "RunningJobs",
            "RunningJobSeconds",
        }
    )
    assert all(m["Dimensions"] == [{"Name": "FleetName", "Value": "fleet-a"}] for m in metrics)
    # Aggregated: one PutMetricData per flush, not one per message.
    calls = worker.logs("worker stopped")[0]["api_calls"]
    assert calls["cloudwatch.PutMetricData"] < 5


def test_ec2_protection_on_when_busy_off_when_idle(aws: Aws, start_worker):
    # Given an instance of a real (moto) Auto Scaling group, and its metadata service
    instance_id = aws.ec2_fleet()

    def protected() -> bool:
        instance = aws.autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])
        return bool(instance["AutoScalingInstances"][0]["ProtectedFromScaleIn"])

    queue_url, _ = aws.queue(visibility=30)
    with ImdsStub(instance_id) as imds:
        worker = start_worker(
            queue_url, WORKER_PLATFORM="EC2", FLEET_NAME="fleet", WORKER_IMDS_ENDPOINT=imds.url
        )
        worker.wait_log("receiving")
        assert not protected()

        # When three jobs arrive one after the other at one slot
        aws.send(queue_url, [job(f"p-{i}", 0.5) for i in range(3)])

        # Then the instance is protected while busy and unprotected once idle
        wait_until(protected, what="protected")
        wait_until(lambda: len(worker.outcomes("processed")) == 3, what="processed")
        wait_until(lambda: not protected(), what="unprotected")
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0
        # Only the two transitions, not a call per message; the instance id was looked up once.
        assert [line["protected"] for line in worker.logs(logger="worker.protection")] == [True, False]
        assert imds.instance_id_lookups == 1


def test_ecs_task_protection_on_when_busy_off_when_idle(aws: Aws, start_worker):
    queue_url, _ = aws.queue(visibility=30)
    with EcsAgentStub() as agent:
        worker = start_worker(
            queue_url, WORKER_PLATFORM="ECS", ECS_AGENT_URI=agent.url, WORKER_PROTECTION_EXPIRES_MINUTES="15"
        )
        worker.wait_log("receiving")
        aws.send(queue_url, [job(f"p-{i}", 0.5) for i in range(3)])
        wait_until(lambda: agent.protection_enabled, what="protected")
        wait_until(lambda: len(worker.outcomes("processed")) == 3, what="processed")
        wait_until(lambda: not agent.protection_enabled, what="unprotected")
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0

    assert [(change.enabled, change.expires_in_minutes) for change in agent.changes] == [
        (True, 15),
        (False, None),
    ]


def test_local_platform_makes_no_protection_calls(aws: Aws, start_worker):
    queue_url, _ = aws.queue(visibility=30)
    with ImdsStub("i-0123456789abcdef0") as imds, EcsAgentStub() as agent:
        # The stubs are offered, but WORKER_PLATFORM defaults to LOCAL: they must not be called.
        worker = start_worker(queue_url, WORKER_IMDS_ENDPOINT=imds.url, ECS_AGENT_URI=agent.url)
        aws.send(queue_url, [job("local", 0.1)])
        wait_until(lambda: worker.outcomes("processed"), what="processed")
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0
    assert imds.instance_id_lookups == 0
    assert agent.changes == []
