"""Metric increments kept in memory and applied to prometheus_client in batches.

In multiprocess mode every prometheus_client increment is a write to a memory-mapped file
under a lock, with a getpid: about 2 us each, a dozen per collector request. Here an
increment only appends its amount to the series' queue; `flush_pending()` applies each
changed series to the real metric with one write, so the names, labels, help texts and totals
in /metrics stay exactly those of the metrics wrapped, and arrive within one flush interval.

Appending to and popping from a deque are atomic, so increments need no lock whichever
thread makes them, and a flush (from the event loop, /metrics, or another thread) takes only
the amounts queued when it started: nothing is counted twice or lost.
"""

from __future__ import annotations

import asyncio
import atexit
import bisect
import logging
import os
import threading
from collections import deque

from prometheus_client import Counter, Gauge, Histogram

log = logging.getLogger(__name__)

_SERIES: list[_Series] = []  # every series of this process, flushed in creation order
_FLUSH_LOCK = threading.Lock()  # one flush at a time, so each takes a queue's length safely


class _Series:
    """The amounts one series was changed by since the last flush."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: deque[float] = deque()
        _SERIES.append(self)

    def flush(self) -> None:
        pending = self._pending
        count = len(pending)  # what is appended meanwhile waits for the next flush
        if count:
            self._apply([pending.popleft() for _ in range(count)])

    def discard(self) -> None:
        self._pending.clear()

    def _apply(self, amounts: list[float]) -> None:
        raise NotImplementedError


class CounterSeries(_Series):
    __slots__ = ("_real",)

    def __init__(self, real: Counter) -> None:
        super().__init__()
        self._real = real

    def inc(self, amount: float = 1) -> None:
        if amount < 0:  # refused at the call, as prometheus_client does, not at the flush
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        self._pending.append(amount)

    def _apply(self, amounts: list[float]) -> None:
        self._real.inc(sum(amounts))


class GaugeSeries(_Series):
    """A gauge changed by inc/dec only: the sum of the changes is applied."""

    __slots__ = ("_real",)

    def __init__(self, real: Gauge) -> None:
        super().__init__()
        self._real = real

    def inc(self, amount: float = 1) -> None:
        self._pending.append(amount)

    def dec(self, amount: float = 1) -> None:
        self._pending.append(-amount)

    def _apply(self, amounts: list[float]) -> None:
        self._real.inc(sum(amounts))


class HistogramSeries(_Series):
    """Observations bucketed at the flush, with the histogram's own bounds: each bucket that
    received any is one write, the sum another."""

    __slots__ = ("_bounds", "_real")

    def __init__(self, real: Histogram) -> None:
        super().__init__()
        self._real = real
        # prometheus_client has no public way to add many observations at once; these are
        # the values its observe() changes (checked by tests/ingest/test_metrics_batching.py).
        self._bounds: list[float] = list(real._upper_bounds)

    def observe(self, amount: float) -> None:
        self._pending.append(amount)

    def _apply(self, amounts: list[float]) -> None:
        counts = [0] * len(self._bounds)
        for amount in amounts:
            # observe() counts an amount in the first bucket whose bound is >= it (the last
            # is +Inf); an amount above every bound (NaN) it counts in none.
            index = bisect.bisect_left(self._bounds, amount)
            if index < len(counts):
                counts[index] += 1
        self._real._sum.inc(sum(amounts))
        for index, count in enumerate(counts):
            if count:
                self._real._buckets[index].inc(count)


class CounterFamily:
    """A labelled counter: `labels(...)` returns the batched series of those label values,
    made once (with the real child, so the series shows at 0 from then on, as before)."""

    __slots__ = ("_children", "_real")

    def __init__(self, real: Counter) -> None:
        self._real = real
        self._children: dict[tuple[str, ...], CounterSeries] = {}

    def labels(self, *values: str) -> CounterSeries:
        try:
            return self._children[values]
        except KeyError:
            # Two threads may both make it: both are flushed, so nothing is lost.
            child = CounterSeries(self._real.labels(*values))
            return self._children.setdefault(values, child)


def flush_pending() -> None:
    """Apply every pending increment to the real metrics: one write per changed series."""
    with _FLUSH_LOCK:
        for series in tuple(_SERIES):
            series.flush()


class Flushing:
    """flush_pending() every interval on an event loop, until cancelled or the loop closes."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval_s: float) -> None:
        self._loop = loop
        self._interval_s = interval_s
        self._handle = loop.call_later(interval_s, self._tick)

    def _tick(self) -> None:
        self._handle = self._loop.call_later(self._interval_s, self._tick)
        try:
            flush_pending()
        except Exception:  # a failed write must not stop the next flushes
            log.exception("applying pending metric increments failed")

    def cancel(self) -> None:
        self._handle.cancel()


def start_flushing(interval_s: float = 0.1) -> Flushing:
    """Flush periodically on the running event loop (call from inside it, e.g. a lifespan)."""
    return Flushing(asyncio.get_running_loop(), interval_s)


def _discard_inherited() -> None:
    # A forked child inherits its parent's queues (the parent applies those itself) and
    # perhaps a lock held by a parent's thread that does not exist here.
    global _FLUSH_LOCK
    _FLUSH_LOCK = threading.Lock()
    for series in _SERIES:
        series.discard()


os.register_at_fork(after_in_child=_discard_inherited)
# A process that ends without its app's shutdown (a CLI command, an interrupted test) still
# applies what it counted.
atexit.register(flush_pending)
