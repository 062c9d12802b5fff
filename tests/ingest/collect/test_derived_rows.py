"""Sessions, content and AI referrals are exactly what the stored events imply, however the
events were grouped into commits: the group commit merges each group's session and content rows
per key before upserting them (merge.py), and that must give what one upsert per event gave.

The expected rows are computed here from the events table alone, in id order (the order the
events were written), by the rules the upserts promise: a session's landing (entry page,
referrer, AI source) is its first pageview's, its counts and times span all its events; a page's
URL is the last one seen, its title the last one given, its first_seen_at the first event's.
Random groups of random requests (hypothesis) on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.classify.content import content_type
from ingest.collect.enrich import RequestContext, enrich
from ingest.collect.parse import IncomingEvent
from ingest.collect.rows import AI_UA_CLASSES, Prepared, prepare, write_rows
from ingest.sources import PINNED_IDS
from ingest.storage import postgres_rows
from ingest.storage.connection import connect
from ingest.storage.migrations import migrate_database as migrate_sqlite
from ingest.storage.pg_migrations import migrate_database as migrate_postgres
from loadtests.bench_pg_writer import CHATGPT_USER, CHROME, GPTBOT

DERIVED = ("events", "sessions", "content", "ai_referrals")
EVENT_COLUMNS = ("id", "property_id", "project_id", "type", "url", "path", "referrer", "title",
                 "ai_source", "ai_source_via", "ua_class", "session_id", "received_at",
                 "off_site")  # fmt: skip
SESSION_COLUMNS = ("property_id", "id", "project_id", "entry_url", "entry_path", "referrer",
                   "ai_source", "ua_class", "pageviews", "events", "started_at",
                   "last_seen_at")  # fmt: skip
CONTENT_COLUMNS = ("property_id", "path", "project_id", "url", "title", "content_type", "views",
                   "ai_views", "crawler_views", "first_seen_at", "last_seen_at")  # fmt: skip
REFERRAL_COLUMNS = ("property_id", "project_id", "session_id", "ai_source", "via", "referrer",
                    "url", "path", "landed_at", "ua_class")  # fmt: skip

event_strategy = st.tuples(
    st.sampled_from(["pageview", "pageview", "click", "custom"]),
    st.sampled_from(["/a", "/b", "/docs/c", None]),  # None: no URL at all
    st.booleans(),  # off site (another host)
    st.sampled_from([None, "https://chatgpt.com/", "https://www.google.com/"]),
    st.sampled_from([None, "T1", "T2"]),
)
request_strategy = st.tuples(
    st.sampled_from([1, 2]),  # property
    st.sampled_from([None, "s1", "s2", "s3"]),  # session
    st.sampled_from([CHROME, GPTBOT, CHATGPT_USER]),
    st.integers(0, 50),  # received_at, out of order across requests
    st.lists(event_strategy, min_size=1, max_size=4),
)
groups_strategy = st.lists(
    st.lists(request_strategy, min_size=1, max_size=6), min_size=1, max_size=5
)


def make_request(spec: tuple[Any, ...]) -> Prepared:
    property_id, session, ua, received_at, events = spec
    domain = f"site{property_id}.example"
    incoming = [
        IncomingEvent(
            type=kind,
            name=None if kind == "pageview" else "signup",
            url=None if path is None else f"https://{'elsewhere.org' if off else domain}{path}",
            referrer=referrer,
            title=title,
            ts=1_000 + received_at,
            session_id=session,
            props_json=None,
            user_agent=None,
        )
        for kind, path, off, referrer, title in events
    ]
    context = RequestContext(ua, False, domain, frozenset(PINNED_IDS), None)
    return prepare(
        enrich(incoming, context), "key_x", property_id, f"prj_{property_id}", 1_000 + received_at
    )


@pytest.fixture(scope="module")
def store(db_location: Path | str, backend: str) -> Iterator[Any]:
    if backend == "sqlite":
        migrate_sqlite(db_location)
        conn: Any = connect(db_location)
    else:
        migrate_postgres(str(db_location))
        conn = psycopg.connect(str(db_location), autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


def write_groups(conn: Any, groups: list[list[Prepared]]) -> None:
    for table in DERIVED:
        conn.execute(f"DELETE FROM {table}")
    for group in groups:  # one group commit each
        if isinstance(conn, psycopg.Connection):
            with conn.transaction():
                postgres_rows.write_rows(conn, group)
        else:
            conn.execute("BEGIN IMMEDIATE")
            write_rows(conn, group)
            conn.execute("COMMIT")


def select(conn: Any, table: str, columns: tuple[str, ...], order: str) -> list[tuple[Any, ...]]:
    rows = conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}").fetchall()
    return [tuple(row) for row in rows]


def implied_sessions(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    sessions: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for event in events:
        if event["session_id"] is not None:
            sessions.setdefault((event["property_id"], event["session_id"]), []).append(event)
    expected = []
    for (property_id, session_id), rows in sorted(sessions.items()):
        pageviews = [e for e in rows if e["type"] == "pageview"]
        urls = [e["url"] for e in pageviews if e["url"] is not None]
        paths = [e["path"] for e in pageviews if e["path"] is not None]
        # The landing: the first event that had an entry path (a pageview with a page); with
        # none yet, the last event's (a click has no referrer for the session: NULL).
        landing = next(
            (e for e in rows if e["type"] == "pageview" and e["path"] is not None), rows[-1]
        )
        landed = landing["type"] == "pageview"
        expected.append((
            property_id, session_id, rows[0]["project_id"],
            urls[0] if urls else None, paths[0] if paths else None,
            landing["referrer"] if landed else None, landing["ai_source"] if landed else None,
            rows[0]["ua_class"], len(pageviews), len(rows),
            min(e["received_at"] for e in rows), max(e["received_at"] for e in rows),
        ))  # fmt: skip
    return expected


def is_page(event: dict[str, Any]) -> bool:
    return event["type"] == "pageview" and not event["off_site"] and event["path"] is not None


def implied_content(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    pages: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for event in events:
        if is_page(event) and content_type(event["path"]) is not None:
            pages.setdefault((event["property_id"], event["path"]), []).append(event)
    expected = []
    for (property_id, path), rows in sorted(pages.items()):
        titles = [e["title"] for e in rows if e["title"] is not None]
        human = [e for e in rows if e["ua_class"] == "human"]
        expected.append((
            property_id, path, rows[0]["project_id"], rows[-1]["url"],
            titles[-1] if titles else None, content_type(path), len(human),
            len([e for e in human if e["ai_source"] is not None]),
            len([e for e in rows if e["ua_class"] in AI_UA_CLASSES]),
            rows[0]["received_at"], max(e["received_at"] for e in rows),
        ))  # fmt: skip
    return expected


def implied_referrals(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            e["property_id"],
            e["project_id"],
            e["session_id"],
            e["ai_source"],
            e["ai_source_via"],
            e["referrer"],
            e["url"],
            e["path"],
            e["received_at"],
            e["ua_class"],
        )
        for e in events
        if is_page(e) and e["ai_source"] is not None and e["ai_source_via"] is not None
    ]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=groups_strategy)
def test_derived_tables_are_what_the_events_imply(store: Any, specs: list[Any]) -> None:
    groups = [[make_request(spec) for spec in group] for group in specs]
    write_groups(store, groups)
    events = [
        dict(zip(EVENT_COLUMNS, row, strict=True))
        for row in select(store, "events", EVENT_COLUMNS, "id")
    ]
    assert len(events) == sum(p.count for g in groups for p in g)
    assert select(store, "sessions", SESSION_COLUMNS, "property_id, id") == implied_sessions(events)
    assert select(store, "content", CONTENT_COLUMNS, "property_id, path") == implied_content(events)
    assert select(store, "ai_referrals", REFERRAL_COLUMNS, "id") == implied_referrals(events)


def test_a_session_landing_after_a_click_in_one_group(store: Any) -> None:
    """The hand-made case the rules are about, so the random test is known to reach it: a click,
    then the landing pageview from an AI assistant, then another pageview, in one commit and
    after a commit that had only a click."""
    click = (1, "s1", CHROME, 5, [("click", "/a", False, None, None)])
    landing = (1, "s1", CHROME, 3, [("pageview", "/b", False, "https://chatgpt.com/", "T1")])
    later = (1, "s1", CHROME, 9, [("pageview", "/a", False, "https://www.google.com/", None)])
    for groups in ([[click, landing, later]], [[click], [landing, later]]):
        write_groups(store, [[make_request(spec) for spec in group] for group in groups])
        (session,) = select(store, "sessions", SESSION_COLUMNS, "id")
        assert session[3:] == (
            "https://site1.example/b", "/b", "https://chatgpt.com/", "chatgpt", "human",
            2, 3, 1_003, 1_009,
        )  # fmt: skip
