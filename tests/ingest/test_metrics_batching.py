"""The batching wrappers against prometheus_client itself: each wrapped metric, after a flush,
exposes exactly what a plain twin given the same calls exposes, whatever the threads, and a
process's last counts survive its exit."""

from __future__ import annotations

import asyncio
import math
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

from ingest.metrics_batching import (
    CounterFamily,
    CounterSeries,
    GaugeSeries,
    HistogramSeries,
    flush_pending,
    start_flushing,
)

BUCKETS = (0.001, 0.005, 0.01, 0.1, 1, 10)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(registry: CollectorRegistry, prefix: str) -> Samples:
    """name (without the metric's own prefix) and labels -> value; _created left out (a time)."""
    return {
        (sample.name.removeprefix(prefix), tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name.startswith(prefix) and not sample.name.endswith("_created")
    }


class Twins:
    """The same metrics twice, in one registry: batched_* through the wrappers, plain_* not."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.counter = CounterFamily(Counter("batched_c", "c", ["a", "b"], registry=r))
        self.plain_counter = Counter("plain_c", "c", ["a", "b"], registry=r)
        self.unlabelled = CounterSeries(Counter("batched_u", "u", registry=r))
        self.plain_unlabelled = Counter("plain_u", "u", registry=r)
        self.gauge = GaugeSeries(Gauge("batched_g", "g", registry=r))
        self.plain_gauge = Gauge("plain_g", "g", registry=r)
        self.histogram = HistogramSeries(Histogram("batched_h", "h", buckets=BUCKETS, registry=r))
        self.plain_histogram = Histogram("plain_h", "h", buckets=BUCKETS, registry=r)

    def batched(self) -> Samples:
        return samples(self.registry, "batched_")

    def plain(self) -> Samples:
        return samples(self.registry, "plain_")


def test_a_flush_applies_exactly_what_plain_metrics_count():
    twins = Twins()
    rng = random.Random(14)
    for _ in range(2000):
        labels = (rng.choice("xyz"), rng.choice("pq"))
        amount = rng.choice((1, 1, 1, 2, 50))
        twins.counter.labels(*labels).inc(amount)
        twins.plain_counter.labels(*labels).inc(amount)
        twins.unlabelled.inc()
        twins.plain_unlabelled.inc()
        change = rng.randint(-3, 5)
        if change >= 0:
            twins.gauge.inc(change)
            twins.plain_gauge.inc(change)
        else:
            twins.gauge.dec(-change)
            twins.plain_gauge.dec(-change)
        # exactly on bounds, between them, above the last (+Inf), zero and negative
        seconds = rng.choice((*BUCKETS, 0.0, -0.5, 42.0, rng.uniform(0, 12)))
        twins.histogram.observe(seconds)
        twins.plain_histogram.observe(seconds)

    before = twins.batched()
    assert before[("h_count", ())] == 0  # nothing applied before the flush
    assert before[("u_total", ())] == 0
    flush_pending()
    after = twins.batched()
    expected = twins.plain()
    assert after.keys() == expected.keys()
    for key, value in expected.items():
        if key[0] == "h_sum":  # summed in another order: equal up to rounding
            assert math.isclose(after[key], value, rel_tol=1e-12), key
        else:
            assert after[key] == value, key
    assert after[("u_total", ())] == 2000
    assert after[("h_count", ())] == 2000

    flush_pending()  # nothing pending: nothing applied twice
    assert twins.batched() == after


def test_labels_show_at_zero_and_children_are_cached():
    twins = Twins()
    child = twins.counter.labels("x", "p")
    assert twins.counter.labels("x", "p") is child
    assert twins.batched()[("c_total", (("a", "x"), ("b", "p")))] == 0  # shown before any count
    with pytest.raises(ValueError):
        twins.counter.labels("only one")  # the label count is still checked, at once


def test_a_counter_refuses_a_negative_amount_at_the_call():
    twins = Twins()
    with pytest.raises(ValueError):
        twins.unlabelled.inc(-1)
    flush_pending()
    assert twins.batched()[("u_total", ())] == 0


def test_threads_incrementing_while_others_flush_lose_and_double_nothing():
    twins = Twins()
    threads, per_thread = 4, 20_000
    done = threading.Event()

    def count() -> None:
        child = twins.counter.labels("x", "p")
        for _ in range(per_thread):
            child.inc()
            twins.histogram.observe(0.002)

    def flush() -> None:
        while not done.is_set():
            flush_pending()

    flushers = [threading.Thread(target=flush) for _ in range(2)]
    counters = [threading.Thread(target=count) for _ in range(threads)]
    for thread in flushers + counters:
        thread.start()
    for thread in counters:
        thread.join()
    done.set()
    for thread in flushers:
        thread.join()
    flush_pending()
    after = twins.batched()
    assert after[("c_total", (("a", "x"), ("b", "p")))] == threads * per_thread
    assert after[("h_bucket", (("le", "0.005"),))] == threads * per_thread
    assert after[("h_count", ())] == threads * per_thread


def test_an_increment_on_a_loop_is_applied_at_the_loops_next_turn():
    twins = Twins()

    async def run() -> tuple[float, float]:
        twins.unlabelled.inc(2)
        twins.histogram.observe(0.003)
        before = twins.batched()[("u_total", ())]
        await asyncio.sleep(0)  # one turn: the flush it scheduled ran first
        return before, twins.batched()[("u_total", ())]

    before, after = asyncio.run(run())
    assert before == 0
    assert after == 2
    assert twins.batched()[("h_count", ())] == 1


def test_start_flushing_applies_other_threads_counts_until_cancelled():
    """A thread without a loop (a writer thread) schedules nothing: the timer applies it."""
    twins = Twins()

    async def run() -> tuple[float, float]:
        flushing = start_flushing(0.02)
        await asyncio.to_thread(twins.unlabelled.inc, 3)
        await asyncio.sleep(0.2)
        applied = twins.batched()[("u_total", ())]
        flushing.cancel()
        await asyncio.to_thread(twins.unlabelled.inc, 4)
        await asyncio.sleep(0.2)
        return applied, twins.batched()[("u_total", ())]

    applied, after_cancel = asyncio.run(run())
    assert applied == 3
    assert after_cancel == 3  # no more flushes once cancelled
    flush_pending()
    assert twins.batched()[("u_total", ())] == 7


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_does_not_apply_its_parents_pending_counts():
    twins = Twins()
    twins.unlabelled.inc(5)  # pending in the parent
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: flush, report what its copy of the metric holds
        try:
            flush_pending()
            os.write(write, str(twins.batched()[("u_total", ())]).encode())
        finally:
            os._exit(0)
    os.close(write)
    reported = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert float(reported) == 0  # the parent's 5 were not applied by the child
    flush_pending()
    assert twins.batched()[("u_total", ())] == 5  # but are by the parent


EXITING = """
import sys
from ingest import metrics
metrics.REQUESTS.labels("202").inc()
metrics.REQUESTS.labels("202").inc()
metrics.EVENTS.labels("pageview", "browser").inc(7)
metrics.LATENCY.observe(0.003)
metrics.QUEUE_DEPTH.inc(9)
if sys.argv[1] == "process_exited":
    import os
    metrics.process_exited(os.getpid())  # as the app's shutdown does
"""


@pytest.mark.parametrize("ending", ["process_exited", "atexit"])
def test_a_process_that_exits_leaves_every_count_in_its_files(tmp_path: Path, ending: str):
    """In multiprocess mode, with no flush made by the code: what a worker counted just before
    it ended is in its files, and its live gauge is not."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", EXITING, ending], env=env, check=True, timeout=60)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(tmp_path))  # type: ignore[no-untyped-call]
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
    }
    assert found[("optiview_collector_requests_total", (("status", "202"),))] == 2
    assert found[("optiview_events_total", (("type", "pageview"), ("ua_class", "browser")))] == 7
    assert found[("optiview_collector_request_seconds_count", ())] == 1
    assert found[("optiview_collector_request_seconds_bucket", (("le", "0.005"),))] == 1
    if ending == "process_exited":  # marked dead: its livesum gauge is dropped
        assert ("optiview_write_queue_events", ()) not in found
    else:
        assert found[("optiview_write_queue_events", ())] == 9
