"""Per-minute collector rollups (requests, errors, latency histogram) for the alert rules.

Each worker accumulates in memory and adds its counts to `request_rollups` with the next
group commit (UPSERT adding) in its node's own row of the minute (ingest.node), so that the
nodes sharing a PostgreSQL database do not all wait on one row; the alert rules sum the
nodes of each minute. Only answered requests are recorded: one whose client hung up first
(client_closed) is no error of ours.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from ingest.node import node_name

MINUTE_MS = 60_000
# Upper bounds in ms; the last bucket holds everything slower. 150/200/250 sit around the
# 200 ms alert threshold so the p95 estimate there is good to +-25 ms.
BUCKET_BOUNDS_MS: tuple[float, ...] = (
    1,
    2.5,
    5,
    10,
    25,
    50,
    100,
    150,
    200,
    250,
    300,
    500,
    1000,
    2500,
    5000,
    10000,
)
BUCKET_COLUMNS: tuple[str, ...] = (
    *("le_" + str(b).replace(".", "_") for b in BUCKET_BOUNDS_MS),
    "le_inf",
)
_FIXED = ("requests", "errors", "events", "latency_ms_sum")
# Columns of one minute's counters, in the order of the lists below.
COLUMNS: tuple[str, ...] = _FIXED + BUCKET_COLUMNS

# Parameters: upsert_rows' (minute, node, *COLUMNS).
UPSERT_SQL = (
    f"INSERT INTO request_rollups (minute, node, {', '.join(COLUMNS)})"
    f" VALUES (?, ?{', ?' * len(COLUMNS)})"
    " ON CONFLICT (minute, node) DO UPDATE SET "
    + ", ".join(f"{c} = request_rollups.{c} + excluded.{c}" for c in COLUMNS)
)
# One row per minute, the nodes summed: what the alert rules read (alerts.runner).
SUM_COLUMNS = ", ".join(f"sum({c})" for c in COLUMNS)


def bucket_index(latency_ms: float) -> int:
    return bisect_left(BUCKET_BOUNDS_MS, latency_ms)


class RollupRecorder:
    def __init__(self) -> None:
        self._minutes: dict[int, list[float]] = {}

    def record(self, now_ms: int, status: int, latency_ms: float, events: int) -> None:
        minute = now_ms - now_ms % MINUTE_MS
        counters = self._minutes.get(minute)
        if counters is None:
            counters = self._minutes[minute] = [0.0] * len(COLUMNS)
        counters[0] += 1
        if status >= 400:
            counters[1] += 1
        counters[2] += events
        counters[3] += latency_ms
        counters[len(_FIXED) + bucket_index(latency_ms)] += 1

    def take(self) -> dict[int, list[float]]:
        taken, self._minutes = self._minutes, {}
        return taken

    def restore(self, taken: dict[int, list[float]]) -> None:
        """Put back counts whose write failed, so the next flush writes them."""
        for minute, counters in taken.items():
            mine = self._minutes.setdefault(minute, [0.0] * len(COLUMNS))
            for i, value in enumerate(counters):
                mine[i] += value

    def __bool__(self) -> bool:
        return bool(self._minutes)


def upsert_rows(
    taken: dict[int, list[float]], node: str | None = None
) -> list[Sequence[float | str]]:
    """UPSERT_SQL's parameters: this node's row of each minute, minutes in order (two nodes'
    writers lock rows of their own; one writer's minutes in order)."""
    name = node_name() if node is None else node
    return [(minute, name, *counters) for minute, counters in sorted(taken.items())]
