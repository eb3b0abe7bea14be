"""A shell script as the handler (WORKER_COMMAND) under the real worker, against the moto server."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.worker.conftest import REPO_ROOT, Aws, wait_until

pytestmark = pytest.mark.slow

SCRIPT = REPO_ROOT / "tests" / "worker" / "commands" / "job.sh"


def _gone(pid: int) -> bool:
    """No such process, or only a zombie waiting for init to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def _command_worker(start_worker, queue_url: str, tmp_path: Path, **settings: str):
    defaults = {
        "WORKER_COMMAND": json.dumps([str(SCRIPT)]),
        "WORKER_VISIBILITY_TIMEOUT": "10",
        "WORKER_KILL_GRACE_SECONDS": "1",
        "TEST_PID_DIR": str(tmp_path),
    }
    return start_worker(queue_url, **{**defaults, **settings})


def test_a_shell_script_processes_fails_for_good_and_is_killed_at_the_time_limit(
    aws: Aws, start_worker, tmp_path: Path
):
    # Given a queue with a DLQ, and messages for each outcome of the script
    queue_url, dlq_url = aws.queue(visibility=10, max_receive_count=2)
    assert dlq_url is not None
    aws.sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps({"job_id": "ok-1", "do": "ok"}),
        MessageAttributes={"language": {"DataType": "String", "StringValue": "de"}},
    )
    aws.send(
        queue_url,
        [
            json.dumps({"job_id": "ok-2"}),
            "plain text, not JSON: a command takes any body",
            json.dumps({"job_id": "j-bad", "do": "bad"}),
            json.dumps({"job_id": "j-flaky", "do": "flaky"}),
            json.dumps({"job_id": "j-hang", "do": "hang"}),
        ],
    )

    # When a worker with three slots runs the script, with a 2 s time limit
    worker = _command_worker(
        start_worker, queue_url, tmp_path, WORKER_CONCURRENCY="3", WORKER_MAX_JOB_SECONDS="2"
    )
    wait_until(
        lambda: len(worker.outcomes("processed")) == 5 and aws.counts(dlq_url)[0] == 1,
        90,
        lambda: f"settled\n{worker.output()}",
    )
    wait_until(lambda: aws.counts(queue_url) == (0, 0), what="deleted")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0

    # Then exit 0 = processed and deleted; the flaky one on its second receive
    processed = {line["message_id"]: line for line in worker.outcomes("processed")}
    assert sorted(str(line["job_id"]) for line in processed.values()) == [
        "None",
        "j-flaky",
        "j-hang",
        "ok-1",
        "ok-2",
    ]
    by_job = {line["job_id"]: line for line in processed.values()}
    assert by_job["j-flaky"]["receive_count"] == 2
    # exit 3 = permanent: the malformed way, on to the DLQ
    assert [json.loads(body)["job_id"] for body in aws.drain(dlq_url)] == ["j-bad"]
    assert {line["job_id"] for line in worker.outcomes("malformed")} == {"j-bad"}
    # The hanging command was stopped at the limit, its whole group killed (it ignored SIGTERM),
    # and the retry succeeded.
    assert [line["job_id"] for line in worker.logs("message timeout")] == ["j-hang"]
    assert by_job["j-hang"]["receive_count"] == 2
    assert worker.logs("command ignored SIGTERM, killing it")
    pids = [int(pid) for pid in (tmp_path / "hang.pids").read_text().split()]
    assert len(pids) == 2
    wait_until(lambda: all(_gone(pid) for pid in pids), 10, "hung command and its child gone")
    # stdout and stderr are in the worker's log with the message id; the environment was passed
    ok_1 = by_job["ok-1"]["message_id"]
    lines = worker.logs(message_id=ok_1, stream="stdout")
    assert [line["message"] for line in lines] == [f"job ok-1 receive 1 message {ok_1} language de"]
    assert worker.logs("a line on stderr", message_id=ok_1, stream="stderr")
    assert worker.logs(f"job none receive 1 message {by_job[None]['message_id']} language none")


def test_sigterm_lets_a_running_command_finish(aws: Aws, start_worker, tmp_path: Path):
    queue_url, _ = aws.queue(visibility=10)
    aws.send(queue_url, [json.dumps({"job_id": "slow", "do": "slow"})])
    worker = _command_worker(start_worker, queue_url, tmp_path, WORKER_SHUTDOWN_GRACE_SECONDS="30")
    worker.wait_log("command started")

    worker.signal(signal.SIGTERM)

    assert worker.wait() == 0
    assert [line["job_id"] for line in worker.outcomes("processed")] == ["slow"]
    assert aws.counts(queue_url) == (0, 0)


def test_sigterm_releases_a_command_still_running_at_the_end_of_the_grace(
    aws: Aws, start_worker, tmp_path: Path
):
    queue_url, _ = aws.queue(visibility=60)
    aws.send(queue_url, [json.dumps({"job_id": "hang", "do": "hang"})])
    worker = _command_worker(start_worker, queue_url, tmp_path, WORKER_SHUTDOWN_GRACE_SECONDS="1")
    wait_until((tmp_path / "hang.pids").exists, what="command running")

    worker.signal(signal.SIGTERM)

    assert worker.wait() == 0
    assert [line["job_id"] for line in worker.outcomes("released")] == ["hang"]
    assert aws.counts(queue_url) == (1, 0), "released with visibility 0, not left to the 60 s timeout"
    pids = [int(pid) for pid in (tmp_path / "hang.pids").read_text().split()]
    wait_until(lambda: all(_gone(pid) for pid in pids), 10, "no child outlives the worker")


def test_kill_9_of_a_command_worker_loses_nothing(aws: Aws, start_worker, tmp_path: Path):
    queue_url, _ = aws.queue(visibility=3)
    aws.send(queue_url, [json.dumps({"job_id": "slow", "do": "slow"})])
    first = _command_worker(start_worker, queue_url, tmp_path, WORKER_VISIBILITY_TIMEOUT="3")
    first.wait_log("command started")

    os.kill(first.process.pid, signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL
    second = _command_worker(start_worker, queue_url, tmp_path, WORKER_VISIBILITY_TIMEOUT="3")

    processed = wait_until(lambda: second.outcomes("processed"), 60, "second worker processed it")
    assert [(line["job_id"], line["receive_count"]) for line in processed] == [("slow", 2)]
    wait_until(lambda: aws.counts(queue_url) == (0, 0), what="deleted")
    second.signal(signal.SIGTERM)
    assert second.wait() == 0
