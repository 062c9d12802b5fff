"""Prometheus metrics. With several worker processes, `optiview serve` sets
PROMETHEUS_MULTIPROC_DIR before anything imports prometheus_client, and /metrics sums the
processes' files, so every count is the service's, not one worker's.

The objects the code increments are batching wrappers (ingest/metrics_batching.py): each
process applies its counts to these metrics at the end of the event loop's turn that made
them (one write per changed series for all of that turn's requests), every 0.1 s for
threads without a loop (`start_flushing`), before rendering /metrics, and before it exits:
the same names, labels and totals, and another worker's counts are in /metrics as soon as
its answers are sent."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from ingest.metrics_batching import (
    CounterFamily,
    CounterSeries,
    Flushing,
    GaugeSeries,
    HistogramSeries,
    flush_pending,
    start_flushing,
)

# flush_pending, start_flushing and Flushing are this module's API too (app.py, the writer).
__all__ = [
    "BATCH_EVENTS",
    "CACHE_LOOKUPS",
    "ENRICH_STEPS",
    "EVENTS",
    "FLUSH_FAILURES",
    "FLUSH_SECONDS",
    "LATENCY",
    "QUEUE_DEPTH",
    "REJECTIONS",
    "REQUESTS",
    "Flushing",
    "flush_pending",
    "process_exited",
    "render",
    "start_flushing",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = CounterFamily(
    Counter(
        "optiview_collector_requests_total",
        "Collector requests, by HTTP status of the answer, or client_closed when the client hung up"
        " before it.",
        ["status"],
    )
)
REJECTIONS = CounterFamily(
    Counter(
        "optiview_collector_rejections_total",
        "Collector requests refused, by reason (the error code of the answer).",
        ["reason"],
    )
)
EVENTS = CounterFamily(
    Counter(
        "optiview_events_total",
        "Events committed, by type and user-agent class.",
        ["type", "ua_class"],
    )
)
ENRICH_STEPS = CounterFamily(
    Counter(
        "optiview_enrich_steps_total",
        "Enrichment step outcomes, by step and result (for example ai_source=chatgpt).",
        ["step", "result"],
    )
)
LATENCY = HistogramSeries(
    Histogram(
        "optiview_collector_request_seconds",
        "Collector request latency, from first byte read to answer.",
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1, 2.5, 5, 10),
    )
)
BATCH_EVENTS = HistogramSeries(
    Histogram(
        "optiview_write_batch_events",
        "Events per group commit.",
        buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
    )
)
FLUSH_SECONDS = HistogramSeries(
    Histogram(
        "optiview_write_flush_seconds",
        "Time of one group commit, BEGIN to COMMIT.",
        buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
    )
)
FLUSH_FAILURES = CounterSeries(
    Counter(
        "optiview_write_flush_failures_total", "Group commits that failed and were answered 503."
    )
)
QUEUE_DEPTH = GaugeSeries(
    Gauge(
        "optiview_write_queue_events",
        "Events waiting for their group commit.",
        multiprocess_mode="livesum",
    )
)
CACHE_LOOKUPS = CounterFamily(
    Counter("optiview_cache_lookups_total", "Authorization cache lookups.", ["cache", "result"])
)


def render() -> tuple[bytes, str]:
    flush_pending()  # this process's counts are current; other workers' within 0.1 s
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def process_exited(pid: int) -> None:
    """Drop a finished worker's live gauges (its counters stay summed in)."""
    if pid == os.getpid():
        flush_pending()  # its last counts, before its files are marked finished
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
