"""A queue the worker can never use stops it with exit code 2 naming the variable; an error a retry
can fix (throttling, 5xx, no network) keeps it trying. `python -m worker` against a moto server."""

from __future__ import annotations

import signal
import time

import pytest

from tests.worker.aws_proxy import AwsProxy, Fault
from tests.worker.conftest import Aws, job, wait_until

pytestmark = pytest.mark.slow


def _stderr_line(worker) -> str:
    lines = [line for line in worker.raw if line.startswith("worker: ")]
    assert len(lines) == 1, worker.output()
    return str(lines[0].strip())


def test_a_queue_url_that_names_no_queue_stops_the_worker_at_start(aws: Aws, start_worker):
    # Given a typo in QUEUE_URL: the queue does not exist
    missing = f"{aws.url}/123456789012/wrok"
    worker = start_worker(missing, AWS_MAX_ATTEMPTS="1")

    # Then the worker exits 2 at once, naming the variable, the URL and SQS's reason; it took nothing
    assert worker.wait() == 2
    line = _stderr_line(worker)
    assert line.startswith(f"worker: invalid setting QUEUE_URL: queue {missing} cannot be used:")
    assert "QueueDoesNotExist" in line
    assert not worker.logs("worker started")


def test_a_missing_queue_in_worker_queue_urls_is_named_as_such(aws: Aws, start_worker):
    high, _ = aws.queue("high")
    missing = f"{aws.url}/123456789012/low"
    worker = start_worker(high, WORKER_QUEUE_URLS=f"{high},{missing}")
    assert worker.wait() == 2
    assert _stderr_line(worker).startswith(f"worker: invalid setting WORKER_QUEUE_URLS: queue {missing} ")


def test_a_kms_key_the_worker_may_not_use_stops_it_at_the_first_receive(
    aws: Aws, start_worker, moto_url: str
):
    # Given a queue whose KMS key the worker's role may not use: SQS refuses every receive
    queue_url, _ = aws.queue()
    with AwsProxy(moto_url) as proxy:
        proxy.fault(Fault("sqs", frozenset({"ReceiveMessage"}), error_code="KmsAccessDenied"))
        worker = start_worker(queue_url, AWS_ENDPOINT_URL=proxy.url)

        # Then the worker stops after that one receive, exit 2, with the reason in its log
        assert worker.wait() == 2
        assert proxy.calls["sqs.ReceiveMessage"] == 1
    [error] = worker.logs("queue cannot be used, stopping")
    assert (error["level"], error["variable"], error["queue_url"]) == ("ERROR", "QUEUE_URL", queue_url)
    assert error["error"].startswith("KmsAccessDenied")


def test_a_queue_deleted_while_the_worker_runs_stops_it(aws: Aws, start_worker):
    queue_url, _ = aws.queue()
    worker = start_worker(queue_url)
    aws.send(queue_url, [job("before", 0)])
    wait_until(lambda: worker.outcomes("processed") and aws.counts(queue_url) == (0, 0), what="working")

    aws.sqs.delete_queue(QueueUrl=queue_url)

    assert worker.wait() == 2
    assert worker.logs("queue cannot be used, stopping")[0]["error"].startswith("QueueDoesNotExist")
    assert worker.logs("worker stopped")[0]["messages_still_held"] == 0


def test_an_sqs_outage_at_start_is_retried_until_it_ends(aws: Aws, start_worker, moto_url: str):
    # Given SQS answering 503 to everything for the worker's first seconds
    queue_url, _ = aws.queue()
    aws.send(queue_url, [job("after-the-outage", 0)])
    with AwsProxy(moto_url) as proxy:
        outage = proxy.fault(Fault("sqs", status=503, until=time.monotonic() + 4))
        worker = start_worker(queue_url, AWS_ENDPOINT_URL=proxy.url, AWS_MAX_ATTEMPTS="1")

        # Then it says so and keeps trying, and works once SQS answers again
        wait_until(
            lambda: any(
                line["message"].startswith(f"cannot reach queue {queue_url}, retrying")
                for line in worker.logs(level="WARNING")
            ),
            what="a warning that it keeps trying",
        )
        assert worker.logs(f"cannot check queue {queue_url} at start")
        wait_until(lambda: worker.outcomes("processed"), 60, "processed after the outage")
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0
    assert outage.seen > 0
