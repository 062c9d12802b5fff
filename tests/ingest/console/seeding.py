"""A hand-counted week for the console's data pages, written through the collector's own code
(enrich, prepare, and each backend's row writer: the rows and rollups a real collector stores)
into a migrated SQLite file or PostgreSQL database, before a real `optiview serve` opens it.

The range is 2026-03-01 .. 2026-03-03 in Asia/Kolkata (UTC+05:30): local days start at 18:30
UTC, and the event at 00:15 on March 2 local (18:45 UTC on March 1) is March 2's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ingest.collect.enrich import RequestContext, enrich
from ingest.collect.parse import IncomingEvent
from ingest.collect.rows import prepare
from ingest.storage.backend import migrate
from ingest.storage.sql import Conn, Location, connect, returning_id
from tests.ingest.collect.conftest import CHROME as CHROME_WINDOWS
from tests.ingest.collect.conftest import GPTBOT
from tests.ingest.stats.seeding import commit_rows

KOLKATA = ZoneInfo("Asia/Kolkata")
ORG = "org_console"
DOMAIN = "console-shop.com"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CURL = "curl/8.5.0"
RANGE = {"from": "2026-03-01", "to": "2026-03-03"}


def local(day: int, hour: int, minute: int = 0, month: int = 3) -> int:
    return int(datetime(2026, month, day, hour, minute, tzinfo=KOLKATA).timestamp() * 1000)


def host(project_id: str) -> str:
    return f"{project_id.replace('_', '-')}.{DOMAIN}"


@dataclass
class Project:
    id: str
    property_id: int


def create(location: Location, project_id: str, *, sources: tuple[str, ...] = ()) -> Project:
    """A migrated database with one org and project (one property), the AI sources enabled."""
    migrate(location)
    conn = connect(location)
    try:
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO orgs (id, name, domain, plan, created_at)"
            " VALUES (?, 'Console Shop', ?, 'pro', 0) ON CONFLICT (id) DO NOTHING",
            (ORG, DOMAIN),
        )
        conn.execute(
            "INSERT INTO projects (id, org_id, name, domain, created_at) VALUES (?, ?, ?, ?, 0)",
            (project_id, ORG, f"Shop {project_id}", host(project_id)),
        )
        property_id = returning_id(
            conn,
            "INSERT INTO properties (project_id, domain, type, is_default, created_at)"
            " VALUES (?, ?, 'website', 1, 0)",
            (project_id, host(project_id)),
        )
        conn.executemany(
            "INSERT INTO project_ai_sources (project_id, source, enabled, updated_at)"
            " VALUES (?, ?, 1, 0)",
            [(project_id, source) for source in sources],
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return Project(project_id, property_id)


def send(
    conn: Conn,
    project: Project,
    ts: int,
    ua: str,
    country: str,
    *,
    type: str = "pageview",
    path: str = "/",
    query: str = "",
    session: str | None = None,
    referrer: str | None = None,
    name: str | None = None,
    sources: frozenset[str] = frozenset({"chatgpt", "perplexity"}),
) -> None:
    domain = conn.execute(
        "SELECT domain FROM properties WHERE id = ?", (project.property_id,)
    ).fetchone()[0]
    event = IncomingEvent(
        type=type,
        name=name,
        url=f"https://{domain}{path}{query}",
        referrer=referrer,
        title=f"Title of {path}",
        ts=ts,
        session_id=session,
        props_json=None,
        user_agent=None,
    )
    context = RequestContext(
        header_user_agent=ua,
        server=False,
        property_domain=domain,
        enabled_sources=sources,
        country=country,
    )
    rows = prepare(enrich([event], context), "key_console", project.property_id, project.id, ts)
    commit_rows(conn, [rows])


def seed_week(location: Location, project: Project) -> None:
    """Nine events in the range, two outside it. Hand counts (people, the default filter):

    day (Kolkata)  human  bot  ai_crawler
    Mar 01           3     1       0      s1: / (from chatgpt.com), /pricing, conversion signup
    Mar 02           2     0       1      s2: /blog/a at 00:15, a click; GPTBot on /blog/a
    Mar 03           2     0       0      s3: /docs/x (utm_source=perplexity.ai), purchase
    """
    conn = connect(location)
    try:
        s1, s2, s3 = "s1-session-aaaaaaaa", "s2-session-bbbbbbbb", "s3-session-cccccccc"
        ref = "https://chatgpt.com/"
        send(conn, project, local(1, 10), CHROME_WINDOWS, "US", session=s1, referrer=ref)
        send(conn, project, local(1, 10, 5), CHROME_WINDOWS, "US", session=s1, path="/pricing")
        send(
            conn, project, local(1, 10, 10), CHROME_WINDOWS, "US",
            type="conversion", name="signup", session=s1, path="/pricing",
        )  # fmt: skip
        send(conn, project, local(1, 11), CURL, "US")
        send(conn, project, local(2, 0, 15), SAFARI_IPHONE, "DE", session=s2, path="/blog/a")
        send(
            conn, project, local(2, 0, 20), SAFARI_IPHONE, "DE",
            type="click", name="cta", session=s2, path="/blog/a",
        )  # fmt: skip
        send(conn, project, local(2, 12), GPTBOT, "US", path="/blog/a")
        send(
            conn, project, local(3, 9), FIREFOX_LINUX, "US",
            session=s3, path="/docs/x", query="?utm_source=perplexity.ai",
        )  # fmt: skip
        send(
            conn, project, local(3, 9, 30), FIREFOX_LINUX, "US",
            type="conversion", name="purchase", session=s3, path="/docs/x",
        )  # fmt: skip
        # outside the range: a minute before it starts, and the day after it ends
        send(conn, project, local(28, 23, 59, month=2), CHROME_WINDOWS, "FR", path="/early")
        send(conn, project, local(4, 1), CHROME_WINDOWS, "FR", path="/late")
    finally:
        conn.close()
