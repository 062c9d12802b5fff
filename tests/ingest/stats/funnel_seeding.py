"""Crawler hits with their verification outcome, written as the collector stores them.

The verification itself is other code's (ingest/crawlers/); these tests need its outcomes on
stored rows. A hit goes through the collector's `enrich` (the real User-Agent classification),
gets `crawler_verified` as verification records it (a `failed` claim is stored as `bot` with
the claimed crawler kept, 0013_crawler_verification.sql), then `prepare` and the backend's row
writer, as a hit from a server log (`hit_source = 'log'`, no session).
"""

from __future__ import annotations

import dataclasses

from ingest.collect.enrich import RequestContext, enrich
from ingest.collect.parse import IncomingEvent
from ingest.collect.rows import HIT_LOG, prepare
from ingest.sources import PINNED_IDS
from ingest.storage.sql import Conn, Location, connect
from tests.ingest.collect.conftest import CHROME, GPTBOT
from tests.ingest.console.seeding import Project, host, send
from tests.ingest.console.seeding import local as at
from tests.ingest.stats.seeding import CLAUDEBOT, PROJECT, Site, commit_rows

OAI_SEARCHBOT = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; OAI-SearchBot/1.0; "
    "+https://openai.com/searchbot"
)
PERPLEXITYBOT = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; "
    "+https://perplexity.ai/perplexitybot)"
)
OUTCOMES = ("web_bot_auth", "ip_range", "none", "failed")


def crawl(
    site: Site,
    ts: int,
    path: str,
    ua: str,
    verified: str,
    *,
    property_id: int | None = None,
    url: str | None = None,
) -> None:
    """One crawler hit (a pageview) on `path` of a stats Site's property."""
    property_id = site.main if property_id is None else property_id
    domain = site.domains[property_id]
    url = url or f"https://{domain}{path}"
    crawl_into(site.conn, PROJECT, property_id, domain, ts, url, ua, verified)


def crawl_into(
    conn: Conn,
    project_id: str,
    property_id: int,
    domain: str,
    ts: int,
    url: str,
    ua: str,
    verified: str,
) -> None:
    """One crawler hit (a pageview of `url`) with the verification outcome `verified`."""
    assert verified in OUTCOMES, verified
    event = IncomingEvent(
        type="pageview",
        name=None,
        url=url,
        referrer=None,
        title=None,
        ts=ts,
        session_id=None,
        props_json=None,
        user_agent=None,
    )
    context = RequestContext(
        header_user_agent=ua,
        server=True,
        property_domain=domain,
        enabled_sources=frozenset(PINNED_IDS),
        country=None,
    )
    (item,) = enrich([event], context)
    assert item.user_agent.crawler is not None, f"{ua!r} claims no known crawler"
    assert item.user_agent.ua_class in ("ai_crawler", "ai_agent"), item.user_agent
    item.crawler_verified = verified
    if verified == "failed":
        item.user_agent = dataclasses.replace(item.user_agent, ua_class="bot")
    rows = prepare([item], "key_stats", property_id, project_id, ts, hit_source=HIT_LOG)
    commit_rows(conn, [rows])


def seed_visibility(location: Location, project: Project) -> None:
    """The console's AI visibility page's project. Hand counts, March 1-3 (Kolkata):
    /docs/a    GPTBot 2 by IP range + 1 unverified, 1 failed GPTBot claim, ClaudeBot 1;
               s1 lands from chatgpt.com and converts
    /llms.txt  PerplexityBot 1; nobody referred
    /pricing   s2 lands from perplexity.ai; never crawled
    Outside the range: a GPTBot hit on /late the day after."""
    conn = connect(location)
    domain = host(project.id)

    def hit(ts: int, path: str, ua: str, verified: str) -> None:
        url = f"https://{domain}{path}"
        crawl_into(conn, project.id, project.property_id, domain, ts, url, ua, verified)

    try:
        hit(at(1, 9), "/docs/a", GPTBOT, "ip_range")
        hit(at(1, 10), "/docs/a", GPTBOT, "ip_range")
        hit(at(2, 9), "/docs/a", GPTBOT, "none")
        hit(at(2, 10), "/docs/a", GPTBOT, "failed")
        hit(at(2, 11), "/docs/a", CLAUDEBOT, "none")
        hit(at(3, 9), "/llms.txt", PERPLEXITYBOT, "none")
        hit(at(4, 9), "/late", GPTBOT, "ip_range")
        send(conn, project, at(2, 12), CHROME, "US", path="/docs/a",
             session="s1-session-aaaaaaaa", referrer="https://chatgpt.com/")  # fmt: skip
        send(conn, project, at(2, 12, 5), CHROME, "US", path="/docs/a",
             type="conversion", name="signup", session="s1-session-aaaaaaaa")  # fmt: skip
        send(conn, project, at(3, 12), CHROME, "DE", path="/pricing",
             session="s2-session-bbbbbbbb", referrer="https://www.perplexity.ai/")  # fmt: skip
    finally:
        conn.close()
