"""Counts for the read API, exact: what the raw tables hold for a property set and time range.

Events are counted by `events.ts` (the client's time), sessions by `sessions.started_at`, AI
referrals by `ai_referrals.landed_at`. A range is always [start, end) in UTC ms.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from ingest.classify.content import content_type
from ingest.stats import rollups
from ingest.stats.rollups import HOUR_MS, QUARTER_MS
from ingest.storage.sql import Conn, dialect_of

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


def _quarters_clean(edges: Sequence[int]) -> tuple[int, int, set[int]]:
    """[first, last) of the whole quarters inside the range, and those of them that a bucket
    edge cuts (served from the rows instead)."""
    first = -(-edges[0] // QUARTER_MS) * QUARTER_MS
    last = edges[-1] // QUARTER_MS * QUARTER_MS
    cut = {e - e % QUARTER_MS for e in edges[1:-1] if e % QUARTER_MS}
    cut = {q for q in cut if first <= q < last}  # the ends are read from the rows already
    return first, last, cut


def _raw_segments(
    start: int, end: int, first: int, last: int, cut: set[int]
) -> list[tuple[int, int]]:
    """The parts of [start, end) that the rollups do not serve, adjacent ones merged."""
    if first >= last:
        return [(start, end)]
    pieces = [(start, first), *((q, q + QUARTER_MS) for q in sorted(cut)), (last, end)]
    merged: list[tuple[int, int]] = []
    for a, b in pieces:
        if a >= b:
            continue
        if merged and merged[-1][1] == a:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _unit(edges: Sequence[int]) -> int:
    """The coarsest grain that no bucket edge splits, to group raw rows by."""
    for unit in (60_000, 1000):
        if all(e % unit == 0 for e in edges):
            return unit
    return 1


# A read that must see one state of the database. SQLite's BEGIN is enough (a reader's
# transaction sees one snapshot from its first read); PostgreSQL's default READ COMMITTED takes
# a new snapshot per statement, so it is asked for REPEATABLE READ (what the service's readers
# already run in: a call from them finds a transaction open and adds none).
_SNAPSHOT_BEGIN = {
    "sqlite": "BEGIN",
    "postgres": "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
}


@contextlib.contextmanager
def snapshot(conn: Conn) -> Iterator[None]:
    """One read transaction, so that the watermark, the rollups and the rows past it agree."""
    if conn.in_transaction:
        yield
        return
    conn.execute(_SNAPSHOT_BEGIN[dialect_of(conn)])
    try:
        yield
    finally:
        conn.execute("COMMIT")


def _tail(
    conn: Conn,
    metric: str,
    property_ids: Sequence[int],
    ua_class: str | None,
    select: str,
    group: str,
    start: int,
    end: int,
) -> list[tuple[Any, int]]:
    """Rows in [start, end) past the rollups' watermark (found by id: the '+' keeps SQLite
    from walking the time index over the whole range instead)."""
    table, column, extra = _SOURCES[metric]
    watermark = rollups.folded(conn)[0 if table == "events" else 1]
    if watermark == rollups.EVERY_ID:  # PostgreSQL: each commit folded its own rows
        return []
    where = f"id > ? AND +{_in(property_ids)}{extra} AND +{column} >= ? AND +{column} < ?"
    params: list[object] = [watermark, *property_ids, start, end]
    if ua_class is not None:
        where += " AND ua_class = ?"
        params.append(ua_class)
    sql = f"SELECT {select}, count(*) FROM {table} WHERE {where} GROUP BY {group}"
    return conn.execute(sql, params).fetchall()


def series(
    conn: Conn,
    property_ids: Sequence[int],
    edges: Sequence[int],
    metric: str,
    ua_class: str | None,
) -> list[int]:
    """One count per [edges[i], edges[i + 1]): whole quarter hours from stats_quarters, the
    rest (range ends, edges that cut a quarter, minute buckets) from the rows."""
    _check(metric)
    values = [0] * max(0, len(edges) - 1)
    if not property_ids or not values:
        return values
    with snapshot(conn):
        return _series(conn, property_ids, edges, metric, ua_class, values)


def _series(
    conn: Conn,
    property_ids: Sequence[int],
    edges: Sequence[int],
    metric: str,
    ua_class: str | None,
    values: list[int],
) -> list[int]:

    def add(instant: int, count: int) -> None:
        values[bisect.bisect_right(edges, instant) - 1] += count

    segments: list[tuple[int, int]] = []
    if metric != "sessions":
        first, last, cut = _quarters_clean(edges)
        segments = _raw_segments(edges[0], edges[-1], first, last, cut)
        if first < last:
            where = _in(property_ids) + " AND quarter >= ? AND quarter < ?"
            params: list[object] = [*property_ids, first, last]
            if ua_class is not None:
                where += " AND ua_class = ?"
                params.append(ua_class)
            for quarter, count in conn.execute(
                f"SELECT quarter, sum({metric}) FROM {rollups.table(conn, 'stats_quarters')}"
                f" WHERE {where} GROUP BY quarter",
                params,
            ):
                if quarter not in cut and count:
                    add(quarter, count)
            unit = _unit(edges)
            column = _SOURCES[metric][1]
            for grain, count in _tail(
                conn, metric, property_ids, ua_class, f"{column} / {unit}", "1", first, last
            ):
                instant = grain * unit
                if instant - instant % QUARTER_MS not in cut:
                    add(instant, count)
    table, where, params = _where(metric, property_ids, ua_class)
    _, column, _ = _SOURCES[metric]
    if metric == "sessions":  # each bucket a range of the index (property_id, started_at, ...)
        sql = f"SELECT count(*) FROM {table} WHERE {where}"
        return [
            conn.execute(sql, (*params, a, b)).fetchone()[0] for a, b in itertools.pairwise(edges)
        ]
    unit = _unit(edges)
    sql = f"SELECT {column} / {unit}, count(*) FROM {table} WHERE {where} GROUP BY 1"
    for a, b in segments:
        for grain, count in conn.execute(sql, (*params, a, b)):
            add(grain * unit, count)
    return values


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


def _hours(start_ms: int, end_ms: int) -> tuple[int, int]:
    """[first, last) of the whole hours inside the range (first >= last: none)."""
    return -(-start_ms // HOUR_MS) * HOUR_MS, end_ms // HOUR_MS * HOUR_MS


def _edges_outside(start_ms: int, end_ms: int, first: int, last: int) -> list[tuple[int, int]]:
    if first >= last:
        return [(start_ms, end_ms)]
    return [(a, b) for a, b in ((start_ms, first), (last, end_ms)) if a < b]


def breakdown(
    conn: Conn,
    property_ids: Sequence[int],
    start_ms: int,
    end_ms: int,
    dimension: str,
    metric: str,
    ua_class: str | None,
) -> list[tuple[str | None, int]]:
    """Counts per value of `dimension`, largest first, every value (no limit): whole hours
    from stats_hours, the ends of the range from the rows; sessions from the rows."""
    _check(metric, dimension)
    if not property_ids or start_ms >= end_ms:
        return []
    with snapshot(conn):
        found = _breakdown(conn, property_ids, start_ms, end_ms, dimension, metric, ua_class)
    if dimension == "content_type":
        return _ordered(_by_content_type(list(found.items())))
    return _ordered(found)


def _breakdown(
    conn: Conn,
    property_ids: Sequence[int],
    start_ms: int,
    end_ms: int,
    dimension: str,
    metric: str,
    ua_class: str | None,
) -> dict[str | None, int]:
    table, where, params = _where(metric, property_ids, ua_class)
    column = _COLUMNS["events" if metric in _EVENT_METRICS else metric][dimension]
    found: dict[str | None, int] = {}
    segments = [(start_ms, end_ms)]
    if metric != "sessions":
        first, last = _hours(start_ms, end_ms)
        segments = _edges_outside(start_ms, end_ms, first, last)
        if first < last:
            rolled = "path" if dimension == "content_type" else dimension
            sql = (
                f"SELECT value, sum({metric}) FROM {rollups.table(conn, 'stats_hours')}"
                f" WHERE {_in(property_ids)}"
                " AND dimension = ? AND hour >= ? AND hour < ?"
            )
            rollup_params: list[object] = [*property_ids, rolled, first, last]
            if ua_class is not None:
                sql += " AND ua_class = ?"
                rollup_params.append(ua_class)
            for value, count in conn.execute(sql + " GROUP BY value", rollup_params):
                key = None if value == "" else value
                found[key] = found.get(key, 0) + count
            for value, count in _tail(
                conn, metric, property_ids, ua_class, column, column, first, last
            ):
                found[value] = found.get(value, 0) + count
    sql = f"SELECT {column}, count(*) FROM {table} WHERE {where} GROUP BY {column}"
    for a, b in segments:
        for value, count in conn.execute(sql, (*params, a, b)):
            found[value] = found.get(value, 0) + count
    return found


def by_class(conn: Conn, property_ids: Sequence[int], start_ms: int, end_ms: int) -> dict[str, int]:
    """Events per visitor class in the range (every class, zero included)."""
    counts = dict.fromkeys(CLASSES, 0)
    if not property_ids or start_ms >= end_ms:
        return counts
    with snapshot(conn):
        _by_class(conn, property_ids, start_ms, end_ms, counts)
    return counts


def _by_class(
    conn: Conn,
    property_ids: Sequence[int],
    start_ms: int,
    end_ms: int,
    counts: dict[str, int],
) -> None:
    first, last, _ = _quarters_clean([start_ms, end_ms])
    if first < last:
        for ua_class, count in conn.execute(
            f"SELECT ua_class, sum(events) FROM {rollups.table(conn, 'stats_quarters')}"
            f" WHERE {_in(property_ids)}"
            " AND quarter >= ? AND quarter < ? GROUP BY ua_class",
            (*property_ids, first, last),
        ):
            if ua_class in counts:
                counts[ua_class] += count
        for ua_class, count in _tail(
            conn, "events", property_ids, None, "ua_class", "ua_class", first, last
        ):
            counts[ua_class] += count
    table, where, params = _where("events", property_ids, None)
    for a, b in _raw_segments(start_ms, end_ms, first, last, set()):
        for ua_class, count in conn.execute(
            f"SELECT ua_class, count(*) FROM {table} WHERE {where} GROUP BY ua_class",
            (*params, a, b),
        ):
            counts[ua_class] += count


def attributed_conversions(
    conn: Conn, property_ids: Sequence[int], start_ms: int, end_ms: int
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


def data_through(conn: Conn, property_ids: Sequence[int]) -> int | None:
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
