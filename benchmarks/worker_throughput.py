"""Benchmark (not a test): one worker's throughput and API calls per message at several concurrencies.

For each concurrency, a fresh queue on a local moto server is filled with fixed-duration jobs, one
`python -m worker` subprocess drains it, and the worker's own call counter (WORKER_COUNT_API_CALLS)
reports every SQS and CloudWatch call it made. Prints a markdown table.

    .venv/bin/python benchmarks/worker_throughput.py [--concurrency 1 4 16] [--job-seconds 0.05]

Everything stays on 127.0.0.1 with fake credentials. Throughput is measured from the worker's first
log line to its last processed message, so process start-up is excluded; moto answers slower than
SQS, so real throughput is at least this high.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from qas.emulator.offline import OFFLINE_ENV

REPO_ROOT = Path(__file__).resolve().parents[1]
FAKE_ENV = OFFLINE_ENV


def run_one(
    url: str, concurrency: int, messages: int, job_seconds: float, wait_seconds: int
) -> dict[str, Any]:
    sqs = boto3.client(
        "sqs", endpoint_url=url, region_name="us-east-1", config=Config(retries={"max_attempts": 1})
    )
    queue_url = sqs.create_queue(QueueName=f"bench-{concurrency}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    body = json.dumps({"processing_seconds": job_seconds})
    for start in range(0, messages, 10):
        entries: Any = [{"Id": str(i), "MessageBody": body} for i in range(min(10, messages - start))]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)

    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        FAKE_ENV,
        AWS_ENDPOINT_URL=url,
        QUEUE_URL=queue_url,
        WORKER_CONCURRENCY=str(concurrency),
        WORKER_WAIT_TIME_SECONDS=str(wait_seconds),
        WORKER_COUNT_API_CALLS="true",
        WORKER_LOG_LEVEL="INFO",
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "worker"], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert worker.stdout is not None
    lines: list[dict[str, Any]] = []
    processed = 0
    for raw in worker.stdout:
        entry = json.loads(raw)
        lines.append(entry)
        if entry.get("outcome") == "processed":
            processed += 1
            if processed == messages:
                worker.send_signal(signal.SIGTERM)
    for raw in worker.stdout:
        lines.append(json.loads(raw))
    worker.wait(timeout=120)

    def at(entry: dict[str, Any]) -> float:
        return datetime.fromisoformat(entry["timestamp"]).timestamp()

    started = at(next(line for line in lines if line["message"] == "worker started"))
    finished = at([line for line in lines if line.get("outcome") == "processed"][-1])
    calls: dict[str, int] = next(line for line in lines if line["message"] == "worker stopped")["api_calls"]
    sqs_calls = sum(count for name, count in calls.items() if name.startswith("sqs."))
    cloudwatch_calls = sum(count for name, count in calls.items() if name.startswith("cloudwatch."))
    seconds = finished - started
    return {
        "concurrency": concurrency,
        "messages": messages,
        "seconds": seconds,
        "rate": messages / seconds,
        "ideal": concurrency / job_seconds,
        "sqs_per_message": sqs_calls / messages,
        "cloudwatch_per_message": cloudwatch_calls / messages,
        "calls": calls,
        "exit_code": worker.returncode,
    }


def bare_loop(url: str, messages: int) -> float:
    """Messages/s of a receive(10) + delete-batch loop with no work: what the server alone allows."""
    sqs = boto3.client(
        "sqs", endpoint_url=url, region_name="us-east-1", config=Config(retries={"max_attempts": 1})
    )
    queue_url = sqs.create_queue(QueueName=f"bench-bare-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    for start in range(0, messages, 10):
        entries: Any = [{"Id": str(i), "MessageBody": "{}"} for i in range(min(10, messages - start))]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    started = time.perf_counter()
    done = 0
    while done < messages:
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        handles: Any = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)]
        if handles:
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=handles)
        done += len(received)
    return messages / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--job-seconds", type=float, default=0.05)
    parser.add_argument(
        "--seconds-of-work", type=float, default=5.0, help="per run: messages = this * c / job"
    )
    # moto scans the whole queue on every receive and delete: a deep queue measures moto, not the worker.
    parser.add_argument("--max-messages", type=int, default=400, help="cap on messages per run")
    parser.add_argument(
        "--wait-seconds", type=int, default=20, help="WORKER_WAIT_TIME_SECONDS (long polling)"
    )
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.update(FAKE_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        results = [
            run_one(
                f"http://{host}:{port}",
                concurrency,
                max(10, min(args.max_messages, round(args.seconds_of_work * concurrency / args.job_seconds))),
                args.job_seconds,
                args.wait_seconds,
            )
            for concurrency in args.concurrency
        ]
        baseline = bare_loop(f"http://{host}:{port}", args.max_messages)
    finally:
        server.stop()

    print(
        f"Jobs of {args.job_seconds:g} s, one worker, moto server on 127.0.0.1 "
        f"({time.strftime('%Y-%m-%d')})\n"
    )
    print(
        "| concurrency | messages | seconds | messages/s | ideal messages/s | SQS calls/message | "
        "CloudWatch calls/message | calls by operation |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        by_operation = ", ".join(
            f"{name.split('.')[1]} {count}" for name, count in sorted(r["calls"].items())
        )
        print(
            f"| {r['concurrency']} | {r['messages']} | {r['seconds']:.1f} | {r['rate']:.1f} | "
            f"{r['ideal']:.0f} | "
            f"{r['sqs_per_message']:.3f} | {r['cloudwatch_per_message']:.4f} | {by_operation} |"
        )
    print(
        f"\nServer ceiling: a bare receive(10) + delete-batch loop with no work and no worker drains "
        f"{args.max_messages} messages at {baseline:.0f} messages/s on the same moto server."
    )
    if any(r["exit_code"] != 0 for r in results):
        raise SystemExit("a worker did not exit 0")


if __name__ == "__main__":
    main()
