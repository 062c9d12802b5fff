"""`stats/content`: the property's own pages with their views in the range.

A page is a row of `content` (the collector writes one per on-site page; an event flagged
`off_site` is never a page). Per page, in [from, to):
- `views`: pageviews of the class filter (human by default), by `events.ts`;
- `ai_views`: human pageviews that landed from an AI assistant (`ai_referrals`, by `landed_at`),
  whatever the class filter, so a bot with an AI referrer never counts;
- `crawler_views`: pageviews by AI crawlers and AI agents (`ai_crawler` + `ai_agent`).
`title`, `url` and `content_type` are the page's latest; `first_seen_at` and `last_seen_at` are
its lifetime (when the collector first and last received a view of it). Pages with nothing in
the range are left out. `content_types` sums the same counts per content type, every type
listed (zeros included), so the console can show what kinds of pages get read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingest.classify.content import CONTENT_TYPES
from ingest.stats.counts import snapshot
from ingest.stats.endpoints.meta import build as build_meta
from ingest.stats.query import StatsQuery
from ingest.stats.rollups import EVERY_ID, HOUR_MS, folded
from ingest.stats.rollups import table as rollup_table
from ingest.stats.sql_filters import AI_CLASSES, placeholders
from ingest.stats.timebuckets import iso
from ingest.storage.sql import Conn


@dataclass(frozen=True, slots=True)
class Page:
    property_id: int
    path: str
    url: str | None
    title: str | None
    content_type: str
    views: int
    ai_views: int
    crawler_views: int
    first_seen_at: int
    last_seen_at: int


def answer(conn: Conn, q: StatsQuery) -> dict[str, Any]:
    pages = pages_in_range(conn, q.property_ids, q.start_ms, q.end_ms, q.ua_class)
    ordered = sorted(pages, key=lambda p: (-p.views, p.path, p.property_id))
    shown = ordered[q.offset : q.offset + q.limit]
    return {
        "meta": build_meta(conn, q),
        "total": len(ordered),
        "rows": [
            {
                "property_id": page.property_id,
                "path": page.path,
                "url": page.url,
                "title": page.title,
                "content_type": page.content_type,
                "views": page.views,
                "ai_views": page.ai_views,
                "crawler_views": page.crawler_views,
                "first_seen_at": iso(page.first_seen_at, q.tz),
                "last_seen_at": iso(page.last_seen_at, q.tz),
            }
            for page in shown
        ],
        "content_types": by_content_type(pages),
    }


def by_content_type(pages: list[Page]) -> list[dict[str, Any]]:
    totals = {kind: [0, 0, 0, 0] for kind in CONTENT_TYPES}
    for page in pages:
        # A type the classifier no longer emits still shows rather than vanishing.
        counts = totals.setdefault(page.content_type, [0, 0, 0, 0])
        counts[0] += 1
        counts[1] += page.views
        counts[2] += page.ai_views
        counts[3] += page.crawler_views
    return [
        {
            "content_type": kind,
            "pages": c[0],
            "views": c[1],
            "ai_views": c[2],
            "crawler_views": c[3],
        }
        for kind, c in totals.items()
    ]


def pages_in_range(
    conn: Conn,
    property_ids: tuple[int, ...],
    start_ms: int,
    end_ms: int,
    ua_class: str | None,
) -> list[Page]:
    """Every page of the properties with a view, AI view or crawler view in [start, end):
    whole UTC hours from the `stats_hours` rollup of paths, the range's ends from the rows."""
    if not property_ids or start_ms >= end_ms:
        return []
    found: dict[tuple[int, str], list[int]] = {}
    first, last = -(-start_ms // HOUR_MS) * HOUR_MS, end_ms // HOUR_MS * HOUR_MS
    with snapshot(conn):  # the watermark, the rollups and the rows past it agree
        segments: list[tuple[int, int, tuple[int, int] | None]] = [(start_ms, end_ms, None)]
        if first < last:
            watermarks = folded(conn)
            segments = [(a, b, None) for a, b in ((start_ms, first), (last, end_ms)) if a < b]
            # Whole hours: the rollup holds the rows up to the watermark; newer rows are
            # counted from the tables until the next fold adds them (on PostgreSQL there
            # are none: each commit counted its own rows, as deltas the readers add).
            if watermarks != (EVERY_ID, EVERY_ID):
                segments.append((first, last, watermarks))
            _add_hours(conn, found, property_ids, first, last, ua_class, watermarks[0])
        for a, b, past in segments:
            for property_id, path, views, ai_views, crawler_views in _rows_between(
                conn, property_ids, a, b, ua_class, past
            ):
                counts = found.setdefault((property_id, path), [0, 0, 0])
                counts[0] += views
                counts[1] += ai_views
                counts[2] += crawler_views
    pages = []
    for row in conn.execute(
        "SELECT property_id, path, url, title, content_type, first_seen_at, last_seen_at"
        f" FROM content WHERE property_id IN ({placeholders(len(property_ids))})",
        property_ids,
    ):
        page_counts = found.get((row[0], row[1]))
        if page_counts and any(page_counts):
            pages.append(Page(*row[:5], *page_counts, *row[5:]))
    return pages


def _add_hours(
    conn: Conn,
    found: dict[tuple[int, str], list[int]],
    property_ids: tuple[int, ...],
    first: int,
    last: int,
    ua_class: str | None,
    events_folded: int,
) -> None:
    sql = f"""
        SELECT property_id, value, ua_class, sum(pageviews), sum(ai_referrals)
        FROM {rollup_table(conn, "stats_hours")}
        WHERE property_id IN ({placeholders(len(property_ids))}) AND dimension = 'path'
            AND hour >= ? AND hour < ?
        GROUP BY property_id, value, ua_class
    """
    for property_id, path, row_class, pageviews, referrals in conn.execute(
        sql, [*property_ids, first, last]
    ):
        counts = found.setdefault((property_id, path), [0, 0, 0])
        if ua_class is None or row_class == ua_class:
            counts[0] += pageviews
        if row_class == "human":
            counts[1] += referrals
        if row_class in AI_CLASSES:
            counts[2] += pageviews
    # The path rollup holds off-site pageviews too; another site's URL is no view of a page
    # here (the partial index of 0009 finds these few rows without a scan).
    off_site = f"""
        SELECT property_id, path, ua_class, count(*) FROM events
        WHERE property_id IN ({placeholders(len(property_ids))}) AND off_site = 1
            AND ts >= ? AND ts < ? AND type = 'pageview' AND id <= ?
        GROUP BY property_id, path, ua_class
    """
    for property_id, path, row_class, pageviews in conn.execute(
        off_site, [*property_ids, first, last, events_folded]
    ):
        counts = found.setdefault((property_id, path), [0, 0, 0])
        if ua_class is None or row_class == ua_class:
            counts[0] -= pageviews
        if row_class in AI_CLASSES:
            counts[2] -= pageviews


def _rows_between(
    conn: Conn,
    property_ids: tuple[int, ...],
    start_ms: int,
    end_ms: int,
    ua_class: str | None,
    past: tuple[int, int] | None = None,
) -> list[tuple[int, str, int, int, int]]:
    """(property_id, path, views, ai_views, crawler_views) counted from the rows themselves;
    with `past`, only the event and AI-referral rows newer than those watermarks (found by id:
    the '+' keeps SQLite off the time index, as in counts)."""
    props = placeholders(len(property_ids))
    ai = placeholders(len(AI_CLASSES))
    # CASE rather than a bare comparison: PostgreSQL cannot sum booleans.
    counted = "1" if ua_class is None else "CASE WHEN ua_class = ? THEN 1 ELSE 0 END"
    events_id = referrals_id = plus = ""
    if past is not None:
        events_id, referrals_id, plus = (
            f"id > {int(past[0])} AND +",
            f"id > {int(past[1])} AND +",
            "+",
        )
    class_param: list[object] = [] if ua_class is None else [ua_class]
    sql = f"""
        SELECT property_id, path, sum(views), sum(ai_views), sum(crawler_views) FROM (
            SELECT property_id, path, {counted} AS views, 0 AS ai_views,
                CASE WHEN ua_class IN ({ai}) THEN 1 ELSE 0 END AS crawler_views
            FROM events
            WHERE {events_id}property_id IN ({props}) AND type = 'pageview' AND off_site = 0
                AND {plus}ts >= ? AND {plus}ts < ?
            UNION ALL
            SELECT property_id, path, 0, 1, 0 FROM ai_referrals
            WHERE {referrals_id}property_id IN ({props}) AND ua_class = 'human'
                AND {plus}landed_at >= ? AND {plus}landed_at < ?
        ) AS counted
        GROUP BY property_id, path
    """
    params: list[object] = [
        *class_param,
        *AI_CLASSES,
        *property_ids,
        start_ms,
        end_ms,
        *property_ids,
        start_ms,
        end_ms,
    ]
    return conn.execute(sql, params).fetchall()
