"""`stats/journeys`: sessions that started in the range, newest first, with their steps.

A session is a row of `sessions` (one per property and client session id); it started when the
collector received its first event (`started_at`). The class filter applies to the session's
class. Steps are the session's events in client-time order (`ts`, then arrival), at most
MAX_STEPS; `truncated` says when there were more.

The step lookup needs no index of its own on the hot `events` table: a session's events were all
received between its `started_at` and `last_seen_at` (both are the collector's `received_at`),
so the existing (property_id, received_at) index bounds the scan to that window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingest.stats.endpoints.meta import build as build_meta
from ingest.stats.query import StatsQuery
from ingest.stats.sql_filters import class_clause, placeholders
from ingest.stats.timebuckets import iso
from ingest.storage.sql import Conn, dialect_of

MAX_STEPS = 100
# Ties broken by the session id in code point order, as SQLite compares text: a PostgreSQL
# database may have been created with a locale's collation, which would order pages otherwise.
_BYTE_ORDER = {"sqlite": "", "postgres": ' COLLATE "C"'}


@dataclass(frozen=True, slots=True)
class Session:
    property_id: int
    id: str
    ai_source: str | None
    entry_path: str | None
    ua_class: str
    started_at: int
    last_seen_at: int


@dataclass(frozen=True, slots=True)
class Step:
    type: str
    name: str | None
    path: str | None
    ts: int


def answer(conn: Conn, q: StatsQuery) -> dict[str, Any]:
    sessions = sessions_started(
        conn, q.property_ids, q.start_ms, q.end_ms, q.ua_class, q.limit, q.offset
    )
    rows = []
    for session in sessions:
        steps = steps_of(conn, session, MAX_STEPS + 1)
        rows.append(
            {
                "session_id": session.id,
                "property_id": session.property_id,
                "started_at": iso(session.started_at, q.tz),
                "ua_class": session.ua_class,
                "ai_source": session.ai_source,
                "entry_path": session.entry_path,
                "steps": [
                    {"type": s.type, "name": s.name, "path": s.path, "ts": iso(s.ts, q.tz)}
                    for s in steps[:MAX_STEPS]
                ],
                "truncated": len(steps) > MAX_STEPS,
            }
        )
    return {"meta": build_meta(conn, q), "rows": rows}


def sessions_started(
    conn: Conn,
    property_ids: tuple[int, ...],
    start_ms: int,
    end_ms: int,
    ua_class: str | None,
    limit: int,
    offset: int,
) -> list[Session]:
    """Sessions with started_at in [start, end), newest first (ties: id, descending)."""
    if not property_ids:
        return []
    cls, cls_params = class_clause("ua_class", ua_class)
    # last_seen_at >= started_at always: the extra bound lets the (property_id, last_seen_at)
    # index skip every session that ended before the range.
    sql = f"""
        SELECT property_id, id, ai_source, entry_path, ua_class, started_at, last_seen_at
        FROM sessions
        WHERE property_id IN ({placeholders(len(property_ids))})
            AND last_seen_at >= ? AND started_at >= ? AND started_at < ?{cls}
        ORDER BY started_at DESC, id{_BYTE_ORDER[dialect_of(conn)]} DESC, property_id
        LIMIT ? OFFSET ?
    """
    params = [*property_ids, start_ms, start_ms, end_ms, *cls_params, limit, offset]
    return [Session(*row) for row in conn.execute(sql, params)]


# Bounded by the session's received_at window so the (property_id, received_at) index serves it.
STEPS_SQL = """
    SELECT type, name, path, ts FROM events
    WHERE property_id = ? AND received_at >= ? AND received_at <= ? AND session_id = ?
    ORDER BY ts, received_at, id
    LIMIT ?
"""


def steps_of(conn: Conn, session: Session, limit: int) -> list[Step]:
    params = (session.property_id, session.started_at, session.last_seen_at, session.id, limit)
    return [Step(*row) for row in conn.execute(STEPS_SQL, params)]
