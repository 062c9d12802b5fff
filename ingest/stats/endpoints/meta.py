"""The `meta` block of every read API answer."""

from __future__ import annotations

from typing import Any

from ingest.stats import counts
from ingest.stats.query import CLASSES, StatsQuery
from ingest.stats.timebuckets import iso
from ingest.storage.sql import Conn


def build(conn: Conn, q: StatsQuery) -> dict[str, Any]:
    """`{tz, from, to, data_through, excluded}`: `excluded` has every class the filter left out
    with its events in the range (so bots never inflate visitor numbers unseen)."""
    through = counts.data_through(conn, q.property_ids)
    excluded: dict[str, int] = {}
    if q.ua_class is not None:
        per_class = counts.by_class(conn, q.property_ids, q.start_ms, q.end_ms)
        excluded = {c: per_class.get(c, 0) for c in CLASSES if c != q.ua_class}
    return {
        "tz": q.tz.key,
        "from": iso(q.start_ms, q.tz),
        "to": iso(q.end_ms, q.tz),
        "class": q.ua_class or "all",
        "property_ids": list(q.property_ids),
        "data_through": iso(through, q.tz) if through is not None else None,
        "excluded": excluded,
    }
