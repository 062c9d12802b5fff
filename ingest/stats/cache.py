"""Dashboard answers kept for a few seconds in each process.

A page read in a loop (the console refreshing, several operators on one page, a monitor
polling the read API) asks the same question again and again. The rollups make an answer
cheap but not free, and on a small machine every answer computed is CPU the collector does
not get. So an answer is reused for `OPTIVIEW_STATS_CACHE_MS` (5 s by default; 0 turns this
off) when the same question comes again: same database, same endpoint and the same
parameters, `meta.data_through` saying how far the data went when it was computed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

from cachetools import TTLCache

T = TypeVar("T")
MAX_ANSWERS = 512


class AnswerCache:
    def __init__(self, ttl_ms: int) -> None:
        self.enabled = ttl_ms > 0
        self._answers: TTLCache[Hashable, object] = TTLCache(MAX_ANSWERS, max(ttl_ms, 1) / 1000)
        # Answers are computed on the analytics thread and looked up from it too; the lock
        # keeps the TTL cache's bookkeeping whole if another thread ever shares it.
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        if not self.enabled:
            return compute()
        with self._lock:
            found = self._answers.get(key)
        if found is not None:
            return found  # type: ignore[return-value]
        answer = compute()
        with self._lock:
            self._answers[key] = answer
        return answer


_caches: dict[tuple[str, int], AnswerCache] = {}


def answers_for(database: str, ttl_ms: int) -> AnswerCache:
    """The cache of one database file (tests run several services in one process)."""
    key = (database, ttl_ms)
    cache = _caches.get(key)
    if cache is None:
        cache = _caches.setdefault(key, AnswerCache(ttl_ms))
    return cache
