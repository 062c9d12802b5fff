"""Metric increments kept in memory and applied to prometheus_client in batches.

In multiprocess mode every prometheus_client increment is a write to a memory-mapped file
under a lock, with a getpid: about 2 us each, a dozen per collector request. Here an
increment only appends its amount to the series' queue; `flush_pending()` applies each
changed series to the real metric with one write, so the names, labels, help texts and totals
in /metrics stay exactly those of the metrics wrapped.

Appending to and popping from a deque are atomic, so increments need no lock whichever
thread makes them, and a flush (from the event loop, /metrics, or another thread) takes only
the amounts queued when it started: nothing is counted twice or lost.

When: an increment on a thread running an event loop schedules a flush for the loop's next
turn (`call_soon`) unless one is already scheduled. A request counts before its answer is
sent, in the same turn, so its counts reach the files as soon as that turn ends (well before
its client could ask another worker's /metrics, unless the worker is descheduled in between),
and one flush carries every request of the turn. The timer of `start_flushing` (0.1 s) is the
backstop, for increments on threads without a loop; /metrics and the process's exit flush too.
"""

from __future__ import annotations

import asyncio
import atexit
import bisect
import logging
import os
import threading
from asyncio import _get_running_loop  # the C one: no exception without a loop
from collections import deque
from collections.abc import Sequence

from prometheus_client import Counter, Gauge, Histogram

log = logging.getLogger(__name__)

_SERIES: list[_Series] = []  # every series of this process, flushed in creation order
_FLUSH_LOCK = threading.Lock()  # one flush at a time, so each takes a queue's length safely
_soon = False  # a flush is scheduled on an event loop's next turn


def _schedule_flush() -> None:
    """Flush on this thread's event loop's next turn; without a loop, the timer will."""
    global _soon
    loop = _get_running_loop()
    if loop is not None:
        _soon = True
        loop.call_soon(_flush_soon)


def _flush_soon() -> None:
    try:
        flush_pending()
    except Exception:  # a failed write must not reach the loop's handler at every turn
        log.exception("applying pending metric increments failed")


class _Series:
    """The amounts one series was changed by since the last flush."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: deque[float] = deque()
        _SERIES.append(self)

    def flush(self) -> None:
        pending = self._pending
        count = len(pending)  # what is appended meanwhile waits for the next flush
        if count == 1:  # the common case of a flush per loop turn under light load
            self._apply((pending.popleft(),))
        elif count:
            self._apply([pending.popleft() for _ in range(count)])

    def discard(self) -> None:
        self._pending.clear()

    def _apply(self, amounts: Sequence[float]) -> None:
        raise NotImplementedError


# prometheus_client has no public way to add many observations to a histogram at once, and
# its inc() re-checks what the wrappers checked at the call: the flushes write the values
# those methods write (`_value`, `_sum`, `_buckets`), each one write to the process's file.
# tests/ingest/test_metrics_batching.py compares the result with plain metrics'.


class CounterSeries(_Series):
    __slots__ = ("_value",)

    def __init__(self, real: Counter) -> None:
        super().__init__()
        self._value = real._value  # a labelled parent has none: only its children count

    def inc(self, amount: float = 1) -> None:
        if amount < 0:  # refused at the call, as prometheus_client does, not at the flush
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        self._pending.append(amount)
        if not _soon:
            _schedule_flush()

    def _apply(self, amounts: Sequence[float]) -> None:
        total = sum(amounts)
        if total:
            self._value.inc(total)


class GaugeSeries(_Series):
    """A gauge changed by inc/dec only: the sum of the changes is applied (none when they
    cancel out, as a queue's ups and downs within one flush do)."""

    __slots__ = ("_real",)

    def __init__(self, real: Gauge) -> None:
        super().__init__()
        self._real = real

    def inc(self, amount: float = 1) -> None:
        self._pending.append(amount)
        if not _soon:
            _schedule_flush()

    def dec(self, amount: float = 1) -> None:
        self._pending.append(-amount)
        if not _soon:
            _schedule_flush()

    def _apply(self, amounts: Sequence[float]) -> None:
        total = sum(amounts)
        if total:
            self._real.inc(total)


class HistogramSeries(_Series):
    """Observations bucketed at the flush, with the histogram's own bounds: each bucket that
    received any is one write, the sum another."""

    __slots__ = ("_bounds", "_buckets", "_sum")

    def __init__(self, real: Histogram) -> None:
        super().__init__()
        self._bounds: list[float] = list(real._upper_bounds)  # the last is +Inf
        self._buckets = real._buckets
        self._sum = real._sum

    def observe(self, amount: float) -> None:
        self._pending.append(amount)
        if not _soon:
            _schedule_flush()

    def _apply(self, amounts: Sequence[float]) -> None:
        counts: dict[int, int] = {}
        bounds = self._bounds
        for amount in amounts:
            if amount == amount:  # observe() counts NaN in no bucket (only in the sum)
                # the first bucket whose bound is >= the amount, as observe() picks it
                index = bisect.bisect_left(bounds, amount)
                counts[index] = counts.get(index, 0) + 1
        self._sum.inc(sum(amounts))
        for index, count in counts.items():
            self._buckets[index].inc(count)


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
    global _soon
    # First: what is counted from now on schedules the next flush. Any flush clears it, so
    # a loop that closed before its scheduled flush ran does not leave it set for good.
    _soon = False
    with _FLUSH_LOCK:
        for series in tuple(_SERIES):
            if series._pending:
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
    global _FLUSH_LOCK, _soon
    _FLUSH_LOCK = threading.Lock()
    _soon = False  # scheduled on the parent's loop, which is not running here
    for series in _SERIES:
        series.discard()


os.register_at_fork(after_in_child=_discard_inherited)
# A process that ends without its app's shutdown (a CLI command, an interrupted test) still
# applies what it counted.
atexit.register(flush_pending)
