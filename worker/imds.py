"""IMDSv2 (the EC2 instance metadata service): a session token, then token-bearing GETs.

urllib rather than a third-party HTTP library: the calls are tiny and host-local, and the image
carries boto3 only. The token is cached and renewed when it expires (401).
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

_HTTP_TIMEOUT_SECONDS = 3
_TOKEN_TTL_SECONDS = 21_600


class Imds:
    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint
        self._token: str | None = None
        self._lock = threading.Lock()

    def get(self, path: str) -> str | None:
        """GET /latest/meta-data/<path>; None when the item does not exist (404)."""
        for attempt in range(2):
            request = urllib.request.Request(  # noqa: S310 - http(s) URL validated in settings
                f"{self._endpoint}/latest/meta-data/{path}",
                headers={"X-aws-ec2-metadata-token": self._session()},
            )
            try:
                with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310
                    return str(response.read().decode())
            except urllib.error.HTTPError as error:
                if error.code == 404:
                    return None
                if error.code == 401 and attempt == 0:
                    with self._lock:
                        self._token = None  # expired: one new token, one more try
                    continue
                raise
        raise RuntimeError("unreachable")

    def _session(self) -> str:
        with self._lock:
            if self._token is None:
                request = urllib.request.Request(  # noqa: S310
                    f"{self._endpoint}/latest/api/token",
                    method="PUT",
                    headers={"X-aws-ec2-metadata-token-ttl-seconds": str(_TOKEN_TTL_SECONDS)},
                )
                with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310
                    self._token = response.read().decode()
            return self._token
