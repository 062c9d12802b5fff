"""Per-key token buckets shared by every node through Redis (OPTIVIEW_REDIS_URL).

Each `take` is one atomic script call (EVALSHA), shared with the takes of the same turn of the
event loop: each bucket is refilled and spent inside Redis, on Redis's own clock (`TIME`), so
nodes whose clocks disagree still agree on the budget. The
rate and burst are the local limiter's, applied once across all nodes instead of once per
process.

When Redis does not answer within `timeout_s`, the request is limited by the process's local
buckets (each process on its own, as without Redis) and Redis is left alone until a probe in
the background gets an answer, retried with a growing back-off: only the requests in flight
when Redis went away wait for it, and for `timeout_s` at most.

`peek` makes no round trip: it reads the local mirror of the last shared answer for the key,
refilled at the rate since. Other nodes only ever take from a shared bucket, so the mirror
holds at least as many tokens as Redis does: when it says the bucket is empty, it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ingest.collect.ratelimit import RateLimiter

log = logging.getLogger("optiview.ratelimit")

KEY_PREFIX = "optiview:ratelimit:"
TIMEOUT_S = 0.05
FIRST_RETRY_S = 0.25
LAST_RETRY_S = 10.0
# Keys in one script call at most, so that one call never holds Redis for long.
MAX_BATCH = 256

# KEYS: the buckets (each a hash of `tokens` and `at`, microseconds on the Redis clock: whole
# numbers, exact in a Lua double, where seconds would lose a fraction of each microsecond),
# one per request taking a token, in order (a key may come twice).
# ARGV: rate per second, burst, and optionally the time in microseconds (tests; else `TIME`).
# Answers, per key, 1 if a token was taken else 0, then the tokens left as a string (an exact
# float; Lua numbers would come back truncated to integers). An idle bucket expires once it
# would be full again (which is the same as no bucket), or after a day for very slow rates.
BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = tonumber(ARGV[3])
if clock == nil then
  local t = redis.call('TIME')
  clock = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local answers = {}
for i, key in ipairs(KEYS) do
  local now = clock
  local tokens = burst
  local saved = redis.call('HMGET', key, 'tokens', 'at')
  if saved[1] then
    -- A clock stepped back (a failover, a correction) refills nothing, now or once it is back.
    now = math.max(now, tonumber(saved[2]))
    tokens = math.min(burst, tonumber(saved[1]) + (now - tonumber(saved[2])) * rate / 1000000)
  end
  local taken = 0
  if tokens >= 1 then
    tokens = tokens - 1
    taken = 1
  end
  redis.call('HSET', key, 'tokens', tokens, 'at', now)
  redis.call('PEXPIRE', key, math.min(math.ceil((burst - tokens) / rate * 1000) + 1000, 86400000))
  answers[2 * i - 1] = taken
  answers[2 * i] = string.format('%.17g', tokens)
end
return answers
"""


_Waiting = tuple[str, "asyncio.Future[tuple[int, float] | None]"]


class SharedRateLimiter:
    def __init__(
        self,
        url: str,
        rate_per_s: float,
        burst: float,
        *,
        timeout_s: float = TIMEOUT_S,
        first_retry_s: float = FIRST_RETRY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.local = RateLimiter(rate_per_s, burst, clock=clock)
        self.rate = self.local.rate
        self._timeout_s = timeout_s
        self._first_retry_s = first_retry_s
        # Timeouts on the socket too, so that a probe or a half-open connection cannot hang;
        # no retries inside the client: a request that waited `timeout_s` is limited locally.
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_s * 4,
            socket_connect_timeout=timeout_s * 4,
            retry=Retry(NoBackoff(), 0),
        )
        self._script = self._redis.register_script(BUCKET_SCRIPT)
        self.down: str | None = None  # why Redis is not used now, None while it is
        self._probe: asyncio.Task[None] | None = None
        self._batch: list[_Waiting] | None = None  # the takes waiting for the next call
        self._calls: set[asyncio.Task[None]] = set()

    async def take(self, key: str) -> int:
        if self.down is not None:
            return self.local.take_now(key)
        # The takes of one turn of the event loop go to Redis together, in one call: the
        # client's cost per call, not Redis's, is what a round trip per request costs most.
        batch = self._batch
        if batch is None or len(batch) >= MAX_BATCH:
            batch = self._batch = []
            asyncio.get_running_loop().call_soon(self._send, batch)
        answer: asyncio.Future[tuple[int, float] | None] = (
            asyncio.get_running_loop().create_future()
        )
        batch.append((key, answer))
        shared = await answer
        if shared is None:
            return self.local.take_now(key)
        taken, tokens = shared
        self.local.record(key, tokens, refused=not taken)
        return 0 if taken else self.local.wait_s(tokens)

    def _send(self, batch: list[_Waiting]) -> None:
        if self._batch is batch:
            self._batch = None
        call = asyncio.get_running_loop().create_task(self._call(batch))
        self._calls.add(call)  # the loop keeps only a weak reference to a task
        call.add_done_callback(self._calls.discard)

    async def _call(self, batch: list[_Waiting]) -> None:
        answers: list[tuple[int, float] | None] = [None] * len(batch)
        try:
            async with asyncio.timeout(self._timeout_s):
                flat = await self._script(
                    keys=[KEY_PREFIX + key for key, _ in batch],
                    args=[self.rate, self.local.burst],
                )
            answers = [(int(flat[i]), float(flat[i + 1])) for i in range(0, len(flat), 2)]
        except (RedisError, OSError, TimeoutError) as exc:
            self._lost(exc)
        finally:  # None, also when cancelled at shutdown: the local buckets answer
            for (_, waiting), answer in zip(batch, answers, strict=True):
                if not waiting.done():  # its request may have been cancelled meanwhile
                    waiting.set_result(answer)

    def peek(self, key: str) -> int:
        return self.local.peek(key)

    def refusing(self) -> bool:
        return self.local.refusing()

    async def check(self) -> dict[str, Any]:
        """The /health check: ok while Redis answers, degraded while the local buckets stand in."""
        if self.down is None:
            try:
                async with asyncio.timeout(self._timeout_s * 4):
                    await self._redis.ping()
            except (RedisError, OSError, TimeoutError) as exc:
                self._lost(exc)
        if self.down is None:
            return {"status": "ok", "shared": True}
        return {
            "status": "degraded",
            "shared": False,
            "detail": f"Redis ({self._redis_address()}) does not answer ({self.down}):"
            " each process limits keys on its own until it does",
        }

    async def close(self) -> None:
        for task in [*self._calls, *([self._probe] if self._probe else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._redis.aclose()

    def _lost(self, exc: BaseException) -> None:
        if self.down is not None:
            return
        self.down = str(exc) or type(exc).__name__
        log.warning(
            "rate limits: Redis does not answer (%s); limiting on local buckets until it does",
            self.down,
        )
        self._probe = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        wait_s = self._first_retry_s
        while True:
            await asyncio.sleep(wait_s)
            try:
                async with asyncio.timeout(self._timeout_s * 4):
                    await self._redis.ping()
            except (RedisError, OSError, TimeoutError) as exc:
                self.down = str(exc) or type(exc).__name__
                wait_s = min(wait_s * 2, LAST_RETRY_S)
                continue
            log.warning("rate limits: Redis answers again; limits are shared across nodes")
            self.down = None
            self._probe = None
            return

    def _redis_address(self) -> str:
        kwargs = self._redis.connection_pool.connection_kwargs
        if "path" in kwargs:
            return str(kwargs["path"])
        return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
