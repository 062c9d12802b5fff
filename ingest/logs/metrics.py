"""The log endpoint's counts, batched as the collector's are (ingest/metrics_batching.py).
Imported by the route only, so by `optiview serve`'s workers after the metrics folder is set
(ingest/cli.py's `logs import` never loads it)."""

from __future__ import annotations

from prometheus_client import Counter

from ingest.metrics_batching import CounterFamily

LOG_LINES = CounterFamily(
    Counter(
        "optiview_log_lines_total",
        "Access log lines received by POST /v1/logs, by fate: stored, or why not (the"
        " skip reason).",
        ["fate"],
    )
)
LOG_REQUESTS = CounterFamily(
    Counter(
        "optiview_log_requests_total",
        "POST /v1/logs requests, by HTTP status of the answer.",
        ["status"],
    )
)
