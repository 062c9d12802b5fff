"""POST to a Slack incoming webhook, with timeouts and retries with backoff.

A send never raises: it returns what happened, and the runner records it, so that a failed
message is retried on the next run instead of being lost or crashing the cron.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 2.0
RETRIES = 2
BACKOFF_S = 0.5
MAX_RETRY_AFTER_S = 5.0


@dataclass(frozen=True)
class Delivery:
    ok: bool
    attempts: int
    error: str | None = None


class SlackSender:
    def __init__(
        self,
        url: str,
        retries: int = RETRIES,
        backoff_s: float = BACKOFF_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.retries = retries
        self.backoff_s = backoff_s
        # Imported here: every server imports this module, and httpx (with rich) was 85 ms of
        # each start; a sender is made only when an alert or a test message goes out.
        import httpx

        timeout = httpx.Timeout(TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        self._client = httpx.Client(timeout=timeout, transport=transport)

    def close(self) -> None:
        self._client.close()

    def send(self, payload: dict[str, Any]) -> Delivery:
        error = "not attempted"
        for attempt in range(1, self.retries + 2):
            wait = self.backoff_s * 2 ** (attempt - 1)
            try:
                response = self._client.post(self.url, json=payload)
            except Exception as exc:  # a bad URL as much as a dead network: recorded, not raised
                error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    return Delivery(True, attempt)
                error = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code == 429:
                    wait = _retry_after(response, wait)
                elif response.status_code < 500:
                    return Delivery(False, attempt, error)  # retrying will not help now
            if attempt <= self.retries:
                time.sleep(wait)
        return Delivery(False, self.retries + 1, error)


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        wait = float(response.headers.get("retry-after", default))
    except ValueError:
        return default
    return min(wait, MAX_RETRY_AFTER_S) if math.isfinite(wait) and wait >= 0 else default
