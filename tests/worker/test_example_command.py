"""The transcription example's script under the real worker, with stand-ins for ffmpeg and whisper-cli."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.worker.conftest import REPO_ROOT, Aws, wait_until

pytestmark = pytest.mark.slow

SCRIPT = REPO_ROOT / "worker" / "examples" / "transcribe" / "transcribe.sh"

# Stand-ins that behave like the real binaries on the arguments the script passes.
FFMPEG = """#!/bin/sh
while [ $# -gt 1 ]; do [ "$1" = "-i" ] && input=$2; shift; done
grep -q "not audio" "$input" && exit 1
cp "$input" "$1"
"""
WHISPER = """#!/bin/sh
while [ $# -gt 0 ]; do
  case "$1" in --language) language=$2 ;; --output-file) out=$2 ;; esac; shift
done
echo "transcript in $language" > "$out.txt"
"""


def test_the_example_transcribes_and_sends_what_cannot_succeed_to_the_dlq(
    aws: Aws, start_worker, tmp_path: Path
):
    tools = tmp_path / "bin"
    tools.mkdir()
    for name, text in (("ffmpeg", FFMPEG), ("whisper-cli", WHISPER)):
        (tools / name).write_text(text)
        (tools / name).chmod(0o755)
    talk, noise = tmp_path / "talk.mp3", tmp_path / "noise.mp3"
    talk.write_text("audio")
    noise.write_text("not audio")
    queue_url, dlq_url = aws.queue(visibility=10, max_receive_count=1)
    assert dlq_url is not None
    aws.sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=str(talk),
        MessageAttributes={"language": {"DataType": "String", "StringValue": "de"}},
    )
    aws.send(queue_url, [str(noise), str(tmp_path / "missing.mp3")])

    worker = start_worker(
        queue_url,
        WORKER_COMMAND=json.dumps([str(SCRIPT)]),
        WORKER_CONCURRENCY="3",
        PATH=f"{tools}{os.pathsep}{os.environ['PATH']}",
    )
    wait_until(lambda: aws.counts(dlq_url)[0] == 2 and aws.counts(queue_url) == (0, 0), 60, "settled")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0

    assert (tmp_path / "talk.txt").read_text() == "transcript in de\n"
    assert len(worker.outcomes("processed")) == 1
    assert sorted(aws.drain(dlq_url)) == sorted([str(noise), str(tmp_path / "missing.mp3")])
    assert worker.logs(f"transcribed {talk} (attempt 1)", stream="stdout")
