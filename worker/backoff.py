"""Pure timing rules: retry backoff of a failed message and the heartbeat's next visibility."""

from __future__ import annotations

import math

from worker.settings import MAX_VISIBILITY_SECONDS

# Margin kept below SQS's 12 h limit on a message's invisibility, counted from its receive.
_SQS_LIMIT_MARGIN_SECONDS = 5


def retry_visibility(receive_count: int, base_seconds: float, max_seconds: float) -> int:
    """Seconds a failed message stays invisible: base * 2**(receives - 1), capped.

    The receive count is the message's own (SQS `ApproximateReceiveCount`), so the backoff grows
    across workers and restarts, not just inside this process. Deterministic (no jitter): the
    retries of different messages are already spread by their receive times.
    """
    receives = max(1, receive_count)
    # Bound the exponent so the float never overflows for absurd receive counts.
    delay = base_seconds * 2.0 ** min(receives - 1, 32)
    return int(min(math.ceil(delay), max_seconds, MAX_VISIBILITY_SECONDS))


def heartbeat_visibility(visibility_timeout: int, seconds_since_receive: float) -> int:
    """The visibility to ask for when extending a running message's lease.

    Normally the configured timeout again, counted from now; never past SQS's 12 h cap from the
    receive (ChangeMessageVisibility beyond it is rejected). 0 means no extension is possible.
    """
    remaining = MAX_VISIBILITY_SECONDS - _SQS_LIMIT_MARGIN_SECONDS - seconds_since_receive
    return max(0, min(visibility_timeout, math.floor(remaining)))


def needs_extension(seconds_left: float, visibility_timeout: int) -> bool:
    """Extend once a quarter of the lease is used: an SQS outage of up to 3/4 of the timeout,
    starting at any moment, cannot expire a lease (at half, the guarantee was only half a timeout).
    The price: one ChangeMessageVisibilityBatch per 10 held messages every timeout / 4."""
    return seconds_left <= visibility_timeout * 3 / 4
