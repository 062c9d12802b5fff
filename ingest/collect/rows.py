"""Enriched events as table rows (pure), and the statements that write a group of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ingest.collect.merge import merge_content, merge_sessions
from ingest.storage.multirow import insert_many

if TYPE_CHECKING:  # sql.py imports psycopg: 0.44 s of a writer process's start, not needed
    from ingest.collect.enrich import Enriched  # and enrich the classifiers and crawler data
    from ingest.storage.sql import Conn

Row = tuple[Any, ...]

EVENT_COLUMNS = (
    "property_id, project_id, key_id, type, name, url, path, referrer,"
    " referrer_host, title, ai_source, ai_source_via, ua_class, crawler, crawler_kind, browser,"
    " os, device, country, user_agent, session_id, props, ts, received_at, off_site,"
    " crawler_verified, hit_source, log_digest"
)
REFERRAL_COLUMNS = (
    "property_id, project_id, session_id, ai_source, via, referrer, url, path, landed_at, ua_class"
)

INSERT_EVENTS = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES "
INSERT_REFERRALS = f"INSERT INTO ai_referrals ({REFERRAL_COLUMNS}) VALUES "

# One row per session, as merge.merge_sessions makes them (`events` the rows merged). The entry
# page, referrer and AI source are the landing's: set by the session's first pageview and kept
# after it.
UPSERT_SESSIONS = """INSERT INTO sessions (property_id, id, project_id, entry_url, entry_path,
    referrer, ai_source, ua_class, pageviews, events, started_at, last_seen_at) VALUES """
ON_SESSION = """ ON CONFLICT (property_id, id) DO UPDATE SET
        entry_url = coalesce(sessions.entry_url, excluded.entry_url),
        entry_path = coalesce(sessions.entry_path, excluded.entry_path),
        referrer = CASE WHEN sessions.entry_path IS NULL THEN excluded.referrer
                        ELSE sessions.referrer END,
        ai_source = CASE WHEN sessions.entry_path IS NULL THEN excluded.ai_source
                         ELSE sessions.ai_source END,
        pageviews = sessions.pageviews + excluded.pageviews,
        events = sessions.events + excluded.events,
        started_at = min(sessions.started_at, excluded.started_at),
        last_seen_at = max(sessions.last_seen_at, excluded.last_seen_at)"""

# One row per page, as merge.merge_content makes them.
UPSERT_CONTENT = """INSERT INTO content (property_id, path, project_id, url, title, content_type,
    views, ai_views, crawler_views, first_seen_at, last_seen_at) VALUES """
ON_CONTENT = """ ON CONFLICT (property_id, path) DO UPDATE SET
        url = excluded.url,
        title = coalesce(excluded.title, content.title),
        views = content.views + excluded.views,
        ai_views = content.ai_views + excluded.ai_views,
        crawler_views = content.crawler_views + excluded.crawler_views,
        last_seen_at = max(content.last_seen_at, excluded.last_seen_at)"""

AI_UA_CLASSES = frozenset({"ai_crawler", "ai_agent"})
# events.hit_source: what brought the hit in (0013_crawler_verification.sql).
HIT_COLLECTOR = "collector"
HIT_LOG = "log"


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which made its
# construction three times as slow, once per request on the worker's hot path (measured).
@dataclass(slots=True)
class Prepared:
    """One request's rows, ready for the group commit's statements (not changed after)."""

    count: int
    events: list[Row]
    sessions: list[Row]
    content: list[Row]
    referrals: list[Row]


def prepare(
    enriched: Sequence[Enriched],
    key_id: str,
    property_id: int,
    project_id: str,
    received_at: int,
    *,
    hit_source: str = HIT_COLLECTOR,
    digests: Sequence[str] | None = None,
) -> Prepared:
    """`digests`: each event's log_digest, in order (imported log lines; None for the tag's)."""
    events: list[Row] = []
    sessions: list[Row] = []
    content: list[Row] = []
    referrals: list[Row] = []
    for index, item in enumerate(enriched):
        event, ua = item.event, item.user_agent
        pageview = event.type == "pageview"
        events.append((
            property_id, project_id, key_id, event.type, event.name, event.url, item.path,
            event.referrer, item.referrer_host, event.title, item.ai_source, item.ai_via,
            ua.ua_class, ua.crawler, ua.crawler_kind, ua.browser, ua.os, ua.device,
            item.country, item.user_agent_text, event.session_id, event.props_json, event.ts,
            received_at, int(item.off_site), item.crawler_verified, hit_source,
            None if digests is None else digests[index],
        ))  # fmt: skip
        if event.session_id is not None:
            sessions.append((
                property_id, event.session_id, project_id,
                event.url if pageview else None, item.path if pageview else None,
                event.referrer if pageview else None, item.ai_source if pageview else None,
                ua.ua_class, int(pageview), received_at, received_at,
            ))  # fmt: skip
        # Content is the property's own pages: another site's URL is flagged, never a page here.
        on_site_page = pageview and not item.off_site and item.path is not None
        if on_site_page and item.content_type is not None:
            human = ua.ua_class == "human"
            content.append((
                property_id, item.path, project_id, event.url, event.title, item.content_type,
                int(human), int(human and item.ai_source is not None),
                int(ua.ua_class in AI_UA_CLASSES), received_at, received_at,
            ))  # fmt: skip
        # A landing on another site's URL is no referral to this property either.
        if on_site_page and item.ai_source is not None and item.ai_via is not None:
            referrals.append((
                property_id, project_id, event.session_id, item.ai_source, item.ai_via,
                event.referrer, event.url, item.path, received_at, ua.ua_class,
            ))  # fmt: skip
    return Prepared(len(enriched), events, sessions, content, referrals)


def write_rows(conn: Conn, group: Sequence[Prepared]) -> None:
    """Write a group's rows inside the caller's transaction (SQLite): events and AI referrals
    by multi-row INSERTs, sessions and content merged per key and upserted once each."""
    events = [r for p in group for r in p.events]
    insert_many(conn, INSERT_EVENTS, "", events)
    referrals = [r for p in group for r in p.referrals]
    if referrals:
        insert_many(conn, INSERT_REFERRALS, "", referrals)
    sessions = [r for p in group for r in p.sessions]
    if sessions:
        insert_many(conn, UPSERT_SESSIONS, ON_SESSION, merge_sessions(sessions))
    content = [r for p in group for r in p.content]
    if content:
        insert_many(conn, UPSERT_CONTENT, ON_CONTENT, merge_content(content))
