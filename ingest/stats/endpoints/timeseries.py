"""`timeseries`: one metric in local buckets, zero-filled."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from ingest.stats import counts
from ingest.stats.endpoints import meta
from ingest.stats.query import StatsQuery
from ingest.stats.timebuckets import boundaries, iso
from ingest.storage.sql import Conn


def answer(conn: Conn, q: StatsQuery, metric: str, interval: str) -> dict[str, Any]:
    edges = boundaries(q.start_ms, q.end_ms, interval, q.tz)
    values = counts.series(conn, q.property_ids, edges, metric, q.ua_class)
    return {
        "metric": metric,
        "interval": interval,
        "series": [
            {"t": iso(start, q.tz), "value": value}
            for (start, _), value in zip(pairwise(edges), values, strict=True)
        ],
        "total": sum(values),
        "meta": meta.build(conn, q),
    }
