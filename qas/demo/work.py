"""The workers' message handler in the demo: the default simulated work, plus a completion record.

The demo sets ``WORKER_HANDLER=qas.demo.work:recorded_work``. After the default handler returns, it
appends one JSON line (job id, produced_at, completion time) to the file named by
``DEMO_COMPLETIONS_FILE``, from which the demo counts processed messages and measures latency
(produced_at to completion, real seconds). Duplicates (at-least-once delivery) are counted once.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from worker.handlers import simulated_work

# Read once at import, like any other setting; one file per worker process, so no interleaving.
_PATH = os.environ.get("DEMO_COMPLETIONS_FILE", "")
_lock = threading.Lock()


def recorded_work(body: dict[str, Any]) -> None:
    started = time.time()
    simulated_work(body)
    if not _PATH:
        return
    record = {
        "job_id": body.get("job_id"),
        "produced_at": body.get("produced_at"),
        "started_at": started,
        "done_at": time.time(),
    }
    with _lock, open(_PATH, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")
