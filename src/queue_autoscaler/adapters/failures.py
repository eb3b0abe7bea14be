"""One clear log line for a failed AWS call, then a failed invocation: the handlers wrap each AWS step
in `fail_loudly`, and only the adapters know what an AWS failure looks like (botocore's errors, ours)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from queue_autoscaler.adapters.errors import AdapterError
from queue_autoscaler.common.observability import logger

# What an AWS step can fail with once botocore's retries are spent: its errors and the adapters' own.
AWS_FAILURES: tuple[type[Exception], ...] = (ClientError, BotoCoreError, AdapterError)


def error_code(err: Exception) -> str:
    """AWS's error code of a failed call (AccessDenied, ...), else the error's class name."""
    code = err.response.get("Error", {}).get("Code") if isinstance(err, ClientError) else None
    return code or type(err).__name__


@contextmanager
def fail_loudly(step: str) -> Iterator[None]:
    """Log an AWS or adapter error once, with structured keys, and re-raise it.

    Throttling has already been retried by botocore's standard retry mode when it gets here.
    Re-raising makes the invocation fail (visible in the Errors metric and alarms) instead of
    publishing a metric or a target built from a half-read state.
    """
    try:
        yield
    except ClientError as err:
        error = err.response.get("Error", {})
        logger.error(
            f"{step} failed: {error.get('Code', 'Unknown')}",
            extra={
                "step": step,
                "operation": err.operation_name,
                "error_code": error.get("Code"),
                "error_message": error.get("Message"),
            },
        )
        raise
    except (AdapterError, BotoCoreError) as err:
        logger.error(
            f"{step} failed: {type(err).__name__}",
            extra={"step": step, "error_code": type(err).__name__, "error_message": str(err)},
        )
        raise
