"""A migrated database (SQLite file or PostgreSQL) with one project, written through the
collector's own code.

Events go through `enrich` (real User-Agent and referrer classification) and `prepare` (the rows
the collector writes: events, sessions, content, ai_referrals), then the backend's own row
writer (`rows.write_rows` on SQLite, `postgres_rows.write_rows` on PostgreSQL), so the
hand-counted fixtures hold exactly what a real collector would have stored. On PostgreSQL each
commit adds its own rows to the read API's rollups (`batch_rollups`), as the writer's commits
do; on SQLite the rows stay past the watermark, read from the tables, as between two of the
writer's folds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ingest.collect.enrich import RequestContext, enrich
from ingest.collect.parse import IncomingEvent
from ingest.collect.rows import Prepared, prepare, write_rows
from ingest.sources import PINNED_IDS
from ingest.stats import batch_rollups
from ingest.stats.query import StatsQuery
from ingest.storage import postgres_rows
from ingest.storage.backend import migrate
from ingest.storage.sql import Conn, Location, PgConn, connect, returning_id
from tests.ingest.collect.conftest import CHROME

CHATGPT_USER = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; "
    "+https://openai.com/bot"
)
CLAUDEBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0)"
CURL = "curl/8.5.0"

PROJECT = "prj_stats"
SITE = "example.com"
OTHER_SITE = "shop.example.net"

HOUR = 3_600_000
DAY = 24 * HOUR
# 2026-03-10T00:00:00Z: the range under test is usually this UTC day.
D = int(datetime(2026, 3, 10, tzinfo=UTC).timestamp()) * 1000


def commit_rows(conn: Conn, group: Sequence[Prepared]) -> None:
    """One commit of the collector's writer: the group's rows, and on PostgreSQL its rollups."""
    conn.execute("BEGIN IMMEDIATE")
    if isinstance(conn, PgConn):
        postgres_rows.write_rows(conn.raw, group)
        batch_rollups.write_rollups(conn.raw, group)
    else:
        write_rows(conn, group)
    conn.execute("COMMIT")


class Site:
    """The project PROJECT with two properties: `main` (SITE) and `other` (OTHER_SITE)."""

    def __init__(self, location: Location) -> None:
        migrate(location)
        self.location = location
        self.conn: Conn = connect(location)
        self.conn.execute(
            "INSERT INTO orgs (id, name, domain, plan, created_at)"
            " VALUES ('org_stats', 'Stats', 'example.com', 'pro', 0)"
        )
        self.conn.execute(
            "INSERT INTO projects (id, org_id, name, domain, created_at)"
            " VALUES (?, 'org_stats', 'Stats', 'example.com', 0)",
            (PROJECT,),
        )
        self.main = self._property(SITE, default=True)
        self.other = self._property(OTHER_SITE, default=False)
        self.domains = {self.main: SITE, self.other: OTHER_SITE}

    def _property(self, domain: str, *, default: bool) -> int:
        return returning_id(
            self.conn,
            "INSERT INTO properties (project_id, domain, type, is_default, created_at)"
            " VALUES (?, ?, 'website', ?, 0)",
            (PROJECT, domain, int(default)),
        )

    def send(
        self,
        ts: int,
        *,
        ua: str = CHROME,
        type: str = "pageview",
        path: str | None = "/",
        session: str | None = None,
        referrer: str | None = None,
        name: str | None = None,
        title: str | None = None,
        url: str | None = None,
        received_at: int | None = None,
        property_id: int | None = None,
    ) -> None:
        """One event as the collector stores it; received when sent unless said otherwise."""
        property_id = self.main if property_id is None else property_id
        domain = self.domains[property_id]
        if url is None and path is not None:
            url = f"https://{domain}{path}"
        event = IncomingEvent(
            type=type,
            name=name,
            url=url,
            referrer=referrer,
            title=title,
            ts=ts,
            session_id=session,
            props_json=None,
            user_agent=None,
        )
        context = RequestContext(
            header_user_agent=ua,
            server=False,
            property_domain=domain,
            enabled_sources=frozenset(PINNED_IDS),
            country="DE",
        )
        rows = prepare(
            enrich([event], context),
            "key_stats",
            property_id,
            PROJECT,
            ts if received_at is None else received_at,
        )
        commit_rows(self.conn, [rows])

    def query(
        self,
        start_ms: int = D,
        end_ms: int = D + DAY,
        *,
        tz: str = "UTC",
        ua_class: str | None = "human",
        limit: int = 50,
        offset: int = 0,
        property_ids: tuple[int, ...] | None = None,
    ) -> StatsQuery:
        return StatsQuery(
            project_id=PROJECT,
            property_ids=(self.main, self.other) if property_ids is None else property_ids,
            start_ms=start_ms,
            end_ms=end_ms,
            tz=ZoneInfo(tz),
            ua_class=ua_class,
            limit=limit,
            offset=offset,
        )
