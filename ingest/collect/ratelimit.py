"""Per-key token buckets. Each worker process keeps its own, so the service-wide limit is
rate x workers; the buckets live in a bounded LRU so that unbounded key ids cost bounded memory.
With OPTIVIEW_REDIS_URL the buckets are shared instead (ratelimit_redis.py), and these become
that limiter's mirror and its fallback.

`take` runs on every accepted request and `peek` on every request of a flood, so both stay
lean: a dict lookup, an in-place update, no cache bookkeeping in Python. `take` is awaitable
because the shared limiter's is a round trip; this one returns at once.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

MAX_TRACKED_KEYS = 100_000
# After a refusal, `refusing` says so for this long: long enough to cover a flood's next
# requests, short enough that normal traffic soon stops paying for the early check.
REFUSING_WINDOW_S = 1.0


class Limiter(Protocol):
    """What the collector asks of a limiter, local or shared."""

    @property
    def rate(self) -> float: ...

    async def take(self, key: str) -> int: ...

    def peek(self, key: str) -> int: ...

    def refusing(self) -> bool: ...

    async def check(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class _Bucket:
    __slots__ = ("counted", "tokens")

    def __init__(self, tokens: float, counted: float) -> None:
        self.tokens = tokens
        self.counted = counted  # when `tokens` was counted


class RateLimiter:
    def __init__(
        self,
        rate_per_s: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_TRACKED_KEYS,
    ) -> None:
        self.rate = rate_per_s
        self.burst = max(burst, 1.0)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()  # least recently used first
        self._refused_at = -math.inf

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    async def take(self, key: str) -> int:
        """Take a token: 0 when allowed, else the whole seconds to wait (for Retry-After)."""
        return self.take_now(key)

    def take_now(self, key: str) -> int:
        """`take`, for callers that cannot await."""
        if self.rate <= 0:
            return 0
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.counted) * self.rate)
            bucket.counted = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0
        self._refused_at = now
        return self.wait_s(bucket.tokens)

    def peek(self, key: str) -> int:
        """What `take` would answer now, without taking a token or tracking a new key."""
        bucket = self._buckets.get(key)
        if bucket is None or self.rate <= 0:
            return 0
        tokens = bucket.tokens + (self._clock() - bucket.counted) * self.rate
        return 0 if tokens >= 1.0 else self.wait_s(tokens)

    def record(self, key: str, tokens: float, refused: bool) -> None:
        """Set a key's bucket to what a shared bucket answered, so that `peek` and a fallback
        to local buckets start from it."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = _Bucket(tokens, now)
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = tokens
            bucket.counted = now
        if refused:
            self._refused_at = now

    def refusing(self) -> bool:
        """Whether some key was refused lately (so a peek before the full work may pay off)."""
        return self._clock() - self._refused_at < REFUSING_WINDOW_S

    def wait_s(self, tokens: float) -> int:
        """Whole seconds until a bucket holding `tokens` holds one (for Retry-After)."""
        return max(1, math.ceil((1.0 - tokens) / self.rate))

    async def check(self) -> dict[str, Any]:
        return {"status": "ok", "shared": False}

    async def close(self) -> None:
        pass
