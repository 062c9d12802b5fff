"""Per-key token buckets. Each worker process keeps its own, so the service-wide limit is
rate x workers; the buckets live in a bounded LRU so that unbounded key ids cost bounded memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from cachetools import LRUCache

MAX_TRACKED_KEYS = 100_000


class RateLimiter:
    def __init__(
        self,
        rate_per_s: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate_per_s
        self.burst = max(burst, 1.0)
        self._clock = clock
        # key -> (tokens, when they were counted)
        self._buckets: LRUCache[str, tuple[float, float]] = LRUCache(MAX_TRACKED_KEYS)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> int:
        """Take a token: 0 when allowed, else the whole seconds to wait (for Retry-After)."""
        if not self.enabled:
            return 0
        now = self._clock()
        tokens, counted = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - counted) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.rate))
