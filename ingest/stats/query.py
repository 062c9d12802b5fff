"""What a stats request asks for, once its parameters are checked (params.py builds it)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ingest.errors import not_found
from ingest.storage.sql import Conn

# Visitor classes as stored in events.ua_class; `all` (no filter) is None in a StatsQuery.
CLASSES = ("human", "bot", "ai_crawler", "ai_agent")


@dataclass(frozen=True)
class StatsQuery:
    project_id: str
    property_ids: tuple[int, ...]  # the one asked for, or every property of the project
    start_ms: int  # inclusive, UTC
    end_ms: int  # exclusive, UTC
    tz: ZoneInfo
    ua_class: str | None  # 'human' (default), 'bot', 'ai_crawler', 'ai_agent'; None = 'all'
    limit: int = 50
    offset: int = 0


def project_properties(conn: Conn, project_id: str) -> tuple[int, ...]:
    """The ids of the project's properties (active or not: their data is still there);
    404 for an unknown project."""
    if conn.execute("SELECT 1 FROM projects WHERE id = ?", (project_id,)).fetchone() is None:
        raise not_found("project", project_id)
    rows = conn.execute(
        "SELECT id FROM properties WHERE project_id = ? ORDER BY id", (project_id,)
    ).fetchall()
    return tuple(int(row[0]) for row in rows)
