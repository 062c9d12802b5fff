"""Counts for the read API, exact: what the raw tables hold for a property set and time range.

Events are counted by `events.ts` (the client's time), sessions by `sessions.started_at`, AI
referrals by `ai_referrals.landed_at`. A range is always [start, end) in UTC ms.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Sequence

from ingest.classify.content import content_type

METRICS = ("events", "pageviews", "sessions", "conversions", "ai_referrals")
DIMENSIONS = ("country", "device", "browser", "os", "ua_class", "crawler", "crawler_kind",
              "ai_source", "referrer_host", "path", "content_type", "type", "name")  # fmt: skip
CLASSES = ("human", "bot", "ai_crawler", "ai_agent")

_EVENT_METRICS = frozenset({"events", "pageviews", "conversions"})
# The dimensions each metric's table has, and the column that holds each.
_COLUMNS: dict[str, dict[str, str]] = {
    "events": {d: d for d in DIMENSIONS if d != "content_type"} | {"content_type": "path"},
    "sessions": {
        "ai_source": "ai_source",
        "ua_class": "ua_class",
        "path": "entry_path",
        "content_type": "entry_path",
    },
    "ai_referrals": {
        "ai_source": "ai_source",
        "ua_class": "ua_class",
        "path": "path",
        "content_type": "path",
    },
}
SUPPORTED: dict[str, frozenset[str]] = {
    "events": frozenset(DIMENSIONS),
    "pageviews": frozenset(DIMENSIONS),
    "conversions": frozenset(DIMENSIONS),
    "sessions": frozenset(_COLUMNS["sessions"]),
    "ai_referrals": frozenset(_COLUMNS["ai_referrals"]),
}
# metric -> (table, time column, extra condition)
_SOURCES: dict[str, tuple[str, str, str]] = {
    "events": ("events", "ts", ""),
    "pageviews": ("events", "ts", " AND type = 'pageview'"),
    "conversions": ("events", "ts", " AND type = 'conversion'"),
    "sessions": ("sessions", "started_at", ""),
    "ai_referrals": ("ai_referrals", "landed_at", ""),
}


def _check(metric: str, dimension: str | None = None) -> None:
    if metric not in SUPPORTED:
        raise ValueError(f"unknown metric {metric!r}")
    if dimension is not None and dimension not in SUPPORTED[metric]:
        raise ValueError(f"metric {metric!r} has no dimension {dimension!r}")


def _in(property_ids: Sequence[int]) -> str:
    return f"property_id IN ({', '.join('?' * len(property_ids))})"


def _where(
    metric: str, property_ids: Sequence[int], ua_class: str | None
) -> tuple[str, str, list[object]]:
    """(table, WHERE clause with two trailing range placeholders, parameters before them)."""
    table, column, extra = _SOURCES[metric]
    where = _in(property_ids) + extra
    params: list[object] = list(property_ids)
    if ua_class is not None:
        where += " AND ua_class = ?"
        params.append(ua_class)
    return table, f"{where} AND {column} >= ? AND {column} < ?", params


def series(
    conn: sqlite3.Connection,
    property_ids: Sequence[int],
    edges: Sequence[int],
    metric: str,
    ua_class: str | None,
) -> list[int]:
    """One count per [edges[i], edges[i + 1])."""
    _check(metric)
    if not property_ids:
        return [0] * max(0, len(edges) - 1)
    table, where, params = _where(metric, property_ids, ua_class)
    sql = f"SELECT count(*) FROM {table} WHERE {where}"
    return [
        conn.execute(sql, (*params, start, end)).fetchone()[0]
        for start, end in itertools.pairwise(edges)
    ]


def _ordered(counts: dict[str | None, int]) -> list[tuple[str | None, int]]:
    """Largest first; ties by value, None last, so that pages of an answer are stable."""
    rows = [(value, count) for value, count in counts.items() if count]
    rows.sort(key=lambda row: (-row[1], row[0] is None, row[0] or ""))
    return rows


def _by_content_type(rows: Sequence[tuple[str | None, int]]) -> dict[str | None, int]:
    """Path counts folded into content types (the collector's own classification of a path)."""
    counts: dict[str | None, int] = {}
    for path, count in rows:
        kind = None if path is None else content_type(path)
        counts[kind] = counts.get(kind, 0) + count
    return counts


def breakdown(
    conn: sqlite3.Connection,
    property_ids: Sequence[int],
    start_ms: int,
    end_ms: int,
    dimension: str,
    metric: str,
    ua_class: str | None,
) -> list[tuple[str | None, int]]:
    """Counts per value of `dimension`, largest first, every value (no limit)."""
    _check(metric, dimension)
    if not property_ids:
        return []
    table, where, params = _where(metric, property_ids, ua_class)
    column = _COLUMNS["events" if metric in _EVENT_METRICS else metric][dimension]
    rows = conn.execute(
        f"SELECT {column}, count(*) FROM {table} WHERE {where} GROUP BY {column}",
        (*params, start_ms, end_ms),
    ).fetchall()
    if dimension == "content_type":
        return _ordered(_by_content_type(rows))
    return _ordered(dict(rows))


def by_class(
    conn: sqlite3.Connection, property_ids: Sequence[int], start_ms: int, end_ms: int
) -> dict[str, int]:
    """Events per visitor class in the range (every class, zero included)."""
    counts = dict.fromkeys(CLASSES, 0)
    if property_ids:
        table, where, params = _where("events", property_ids, None)
        for ua_class, count in conn.execute(
            f"SELECT ua_class, count(*) FROM {table} WHERE {where} GROUP BY ua_class",
            (*params, start_ms, end_ms),
        ):
            counts[ua_class] = count
    return counts


def attributed_conversions(
    conn: sqlite3.Connection, property_ids: Sequence[int], start_ms: int, end_ms: int
) -> dict[str | None, int]:
    """Human conversions in the range by the AI source of their session: a conversion late in
    a session that landed from an AI assistant counts for it. None: not AI-referred."""
    if not property_ids:
        return {}
    rows = conn.execute(
        "SELECT s.ai_source, count(*) FROM events AS e"
        " LEFT JOIN sessions AS s ON s.property_id = e.property_id AND s.id = e.session_id"
        f" WHERE e.{_in(property_ids)} AND e.type = 'conversion' AND e.ua_class = 'human'"
        " AND e.ts >= ? AND e.ts < ? GROUP BY s.ai_source",
        (*property_ids, start_ms, end_ms),
    ).fetchall()
    return dict(rows)


def data_through(conn: sqlite3.Connection, property_ids: Sequence[int]) -> int | None:
    """When the latest committed event of these properties was received (ms), None if none."""
    if not property_ids:
        return None
    latest = [
        conn.execute(
            "SELECT max(received_at) FROM events WHERE property_id = ?", (prop,)
        ).fetchone()[0]
        for prop in property_ids
    ]
    known = [ms for ms in latest if ms is not None]
    return max(known) if known else None


__all__ = [
    "DIMENSIONS",
    "METRICS",
    "SUPPORTED",
    "attributed_conversions",
    "breakdown",
    "by_class",
    "data_through",
    "series",
]
