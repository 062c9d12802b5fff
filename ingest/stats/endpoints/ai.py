"""`stats/ai`: AI assistants that sent people, and AI crawlers and agents that came themselves.

`sources` counts human visitors only, whatever the class filter:
- `sessions`: human sessions that started in [from, to) and landed from the source (the AI
  source of a session is its landing pageview's);
- `pageviews`: every pageview of those sessions, the landing included, also ones after `to`
  when the session went on: what the AI-referred visits led to;
- `conversions`: human conversions in [from, to) (by `ts`) whose session landed from the source,
  however many pages later (a session that landed from ChatGPT converts for ChatGPT).
A source is listed when it has a session or a conversion in the range.

`crawlers` groups `ai_crawler` and `ai_agent` events (every type) in the range by crawler token:
`operator` from the vendored robots.json, `kind` training|search|user, `hits`, and `verified`:
how many of those hits were verified by the operator's published IP ranges or Web Bot Auth
(`events.crawler_verified` is `ip_range` or `web_bot_auth`). A claim that failed verification
is stored as `bot`, so it is never an operator's crawler hit here. Counted from the events
(the hourly rollups hold no verification).

`limit`/`offset` apply to each list.
"""

from __future__ import annotations

from typing import Any

from ingest.stats import counts
from ingest.stats.endpoints.meta import build as build_meta
from ingest.stats.operators import crawler as crawler_entry
from ingest.stats.operators import operator_of
from ingest.stats.query import StatsQuery
from ingest.stats.sql_filters import AI_CLASSES, placeholders
from ingest.storage.sql import Conn

# Verification outcomes that count as verified (events.crawler_verified, migration 0013).
VERIFIED = ("web_bot_auth", "ip_range")
# A CASE, not sum(<comparison>): PostgreSQL has no sum of booleans.
VERIFIED_HITS = (
    f"sum(CASE WHEN crawler_verified IN ({', '.join(repr(v) for v in VERIFIED)}) THEN 1 ELSE 0 END)"
)

# The same attribution the sources use, for the console's conversions page.
attributed_conversions = counts.attributed_conversions


def answer(conn: Conn, q: StatsQuery) -> dict[str, Any]:
    sources = source_rows(conn, q.property_ids, q.start_ms, q.end_ms)
    crawlers = crawler_rows(conn, q.property_ids, q.start_ms, q.end_ms)
    return {
        "meta": build_meta(conn, q),
        "sources": sources[q.offset : q.offset + q.limit],
        "crawlers": crawlers[q.offset : q.offset + q.limit],
    }


def source_rows(
    conn: Conn, property_ids: tuple[int, ...], start_ms: int, end_ms: int
) -> list[dict[str, Any]]:
    """Largest first (sessions, then conversions), then by source id."""
    sessions = ai_sessions(conn, property_ids, start_ms, end_ms)
    conversions = counts.attributed_conversions(conn, property_ids, start_ms, end_ms)
    names = set(sessions) | {source for source in conversions if source is not None}
    rows: list[dict[str, Any]] = [
        {
            "source": source,
            "sessions": sessions.get(source, (0, 0))[0],
            "pageviews": sessions.get(source, (0, 0))[1],
            "conversions": conversions.get(source, 0),
        }
        for source in names
    ]
    rows.sort(key=lambda r: (-r["sessions"], -r["conversions"], r["source"]))
    return rows


def ai_sessions(
    conn: Conn, property_ids: tuple[int, ...], start_ms: int, end_ms: int
) -> dict[str, tuple[int, int]]:
    """source -> (human sessions started in range that landed from it, their pageviews)."""
    if not property_ids:
        return {}
    # last_seen_at >= started_at: the bound lets the (property_id, last_seen_at) index help.
    sql = f"""
        SELECT ai_source, count(*), sum(pageviews) FROM sessions
        WHERE property_id IN ({placeholders(len(property_ids))}) AND ua_class = 'human'
            AND ai_source IS NOT NULL
            AND last_seen_at >= ? AND started_at >= ? AND started_at < ?
        GROUP BY ai_source
    """
    rows = conn.execute(sql, [*property_ids, start_ms, start_ms, end_ms])
    return {source: (count, pageviews) for source, count, pageviews in rows}


def crawler_rows(
    conn: Conn, property_ids: tuple[int, ...], start_ms: int, end_ms: int
) -> list[dict[str, Any]]:
    """AI crawler and agent hits by token, most hits first, then by token."""
    if not property_ids:
        return []
    # `crawler IS NOT NULL` holds for every AI crawler and agent hit (the class comes from the
    # crawler's token); the term lets an index of crawler hits alone (partial, WHERE crawler IS
    # NOT NULL) answer instead of every event of the range.
    sql = f"""
        SELECT crawler, crawler_kind, count(*), {VERIFIED_HITS} FROM events
        WHERE property_id IN ({placeholders(len(property_ids))}) AND crawler IS NOT NULL
            AND ua_class IN ({placeholders(len(AI_CLASSES))}) AND ts >= ? AND ts < ?
        GROUP BY crawler, crawler_kind
    """
    grouped = conn.execute(sql, [*property_ids, *AI_CLASSES, start_ms, end_ms]).fetchall()
    found: list[dict[str, Any]] = []
    for token, kind, count, verified_hits in grouped:
        entry = crawler_entry(token)
        found.append(
            {
                "operator": operator_of(token),
                "crawler": token,
                "kind": kind or (entry.kind if entry else None),
                "hits": count,
                "verified": verified_hits or 0,
            }
        )
    found.sort(key=lambda r: (-r["hits"], r["crawler"] or "", r["kind"] or ""))
    return found
