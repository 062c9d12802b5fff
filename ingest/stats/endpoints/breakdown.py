"""`breakdown`: one metric by one dimension, largest first, paged by limit and offset."""

from __future__ import annotations

from typing import Any

from ingest.stats import counts
from ingest.stats.endpoints import meta
from ingest.stats.query import StatsQuery
from ingest.storage.sql import Conn


def answer(conn: Conn, q: StatsQuery, dimension: str, metric: str) -> dict[str, Any]:
    rows = counts.breakdown(
        conn, q.property_ids, q.start_ms, q.end_ms, dimension, metric, q.ua_class
    )
    page = rows[q.offset : q.offset + q.limit]
    return {
        "dimension": dimension,
        "metric": metric,
        "rows": [{"value": value, "count": count} for value, count in page],
        "total_rows": len(rows),
        "meta": meta.build(conn, q),
    }
