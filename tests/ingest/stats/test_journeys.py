"""stats/journeys: sessions started in the range, newest first, class filter on the session,
steps in client-time order, capped and flagged; times in the asked zone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from ingest.stats.endpoints import journeys
from ingest.storage.sql import dialect_of
from tests import postgres
from tests.ingest.stats.seeding import CURL, DAY, HOUR, D, Site

MINUTE = 60_000


@pytest.fixture(scope="module")
def site(db_location: Path | str) -> Iterator[Site]:
    site = Site(db_location)
    # "early" started before the range and goes on in it: not a session of the range.
    site.send(D - HOUR, path="/", session="early")
    site.send(D + HOUR + 5 * MINUTE, path="/pricing", session="early")
    # "ai": lands from ChatGPT, reads, clicks, converts. The click's client clock says it
    # came after the second page although it arrived first.
    site.send(D + HOUR, path="/blog/hello", session="ai", referrer="https://chatgpt.com/")
    site.send(D + HOUR + 2 * MINUTE, received_at=D + HOUR + MINUTE, type="click",
              name="cta", path="/blog/hello", session="ai")  # fmt: skip
    site.send(D + HOUR + MINUTE, received_at=D + HOUR + 2 * MINUTE, path="/pricing", session="ai")
    site.send(D + HOUR + 3 * MINUTE, type="conversion", name="signup", path="/pricing",
              session="ai")  # fmt: skip
    # Another session's events inside the same window, and the same session id on the
    # other property: neither is a step of "ai".
    site.send(D + HOUR + 90_000, path="/docs/x", session="noise")
    site.send(D + HOUR + MINUTE, path="/other", session="ai", property_id=site.other)
    site.send(D + 2 * HOUR, path="/", session="bot", ua=CURL)
    site.send(D + 3 * HOUR, path="/", session="direct")
    # A long session: 105 pageviews, one a minute.
    for i in range(105):
        site.send(D + 5 * HOUR + i * MINUTE, path=f"/docs/{i}", session="long")
    # After the range.
    site.send(D + DAY + HOUR, path="/", session="tomorrow")
    yield site
    site.conn.close()


def ids(site: Site, **query: Any) -> list[tuple[str, int]]:
    answer = journeys.answer(site.conn, site.query(**query))
    return [(r["session_id"], r["property_id"]) for r in answer["rows"]]


def test_newest_first_humans_by_default(site: Site) -> None:
    assert ids(site) == [
        ("long", site.main),
        ("direct", site.main),
        ("noise", site.main),
        ("ai", site.other),  # started a minute after the main property's "ai"
        ("ai", site.main),
    ]


def test_class_filter_is_the_sessions_class(site: Site) -> None:
    assert ids(site, ua_class="bot") == [("bot", site.main)]
    assert ids(site, ua_class="ai_crawler") == []
    assert [s for s, _ in ids(site, ua_class=None)] == [
        "long", "direct", "bot", "noise", "ai", "ai"
    ]  # fmt: skip


def test_limit_offset_and_range(site: Site) -> None:
    assert ids(site, limit=2, offset=1) == [("direct", site.main), ("noise", site.main)]
    assert ids(site, start_ms=D - DAY, end_ms=D) == [("early", site.main)]
    assert ids(site, start_ms=D + DAY, end_ms=D + 2 * DAY) == [("tomorrow", site.main)]
    assert ids(site, property_ids=()) == []


def step(type: str, name: str | None, path: str, ts: str) -> dict[str, Any]:
    return {"type": type, "name": name, "path": path, "ts": ts}


def test_steps_in_client_time_order_with_landing(site: Site) -> None:
    rows = journeys.answer(site.conn, site.query(property_ids=(site.main,)))["rows"]
    ai = next(r for r in rows if r["session_id"] == "ai")
    assert ai == {
        "session_id": "ai",
        "property_id": site.main,
        "started_at": "2026-03-10T01:00:00+00:00",
        "ua_class": "human",
        "ai_source": "chatgpt",
        "entry_path": "/blog/hello",
        "steps": [
            step("pageview", None, "/blog/hello", "2026-03-10T01:00:00+00:00"),
            step("pageview", None, "/pricing", "2026-03-10T01:01:00+00:00"),
            step("click", "cta", "/blog/hello", "2026-03-10T01:02:00+00:00"),
            step("conversion", "signup", "/pricing", "2026-03-10T01:03:00+00:00"),
        ],
        "truncated": False,
    }


def test_long_session_is_truncated(site: Site) -> None:
    long = journeys.answer(site.conn, site.query(limit=1))["rows"][0]
    assert long["session_id"] == "long"
    assert long["truncated"] is True
    assert len(long["steps"]) == journeys.MAX_STEPS == 100
    assert [s["path"] for s in long["steps"]][:2] == ["/docs/0", "/docs/1"]
    assert long["steps"][-1]["path"] == "/docs/99"


def test_times_in_the_zone(site: Site) -> None:
    rows = journeys.answer(site.conn, site.query(tz="Asia/Kolkata"))["rows"]
    direct = next(r for r in rows if r["session_id"] == "direct")
    assert direct["started_at"] == "2026-03-10T08:30:00+05:30"
    assert direct["steps"][0]["ts"] == "2026-03-10T08:30:00+05:30"
    berlin = journeys.answer(site.conn, site.query(tz="Europe/Berlin"))["rows"]
    assert next(r for r in berlin if r["session_id"] == "direct")["started_at"] == (
        "2026-03-10T04:00:00+01:00"
    )


def test_step_lookup_uses_the_received_at_index(site: Site) -> None:
    """No index of its own on events: the session's received_at window bounds the scan."""
    session = journeys.sessions_started(site.conn, (site.main,), D, D + DAY, "human", 1, 0)[0]
    params = (session.property_id, session.started_at, session.last_seen_at, session.id, 101)
    if dialect_of(site.conn) == "sqlite":
        plan = site.conn.execute("EXPLAIN QUERY PLAN " + journeys.STEPS_SQL, params).fetchall()
        detail = " ".join(row[-1] for row in plan)
        assert "USING INDEX events_property_received_at" in detail, detail
        return
    # PostgreSQL's planner scans a table this small whichever indexes there are (and picks
    # among them by statistics, not by a rule): what the lookup relies on is the index on
    # (property_id, received_at), so that is what is held here.
    (definition,) = site.conn.execute(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'events'"
        " AND indexname = 'events_property_received_at'"
    ).fetchone()
    assert definition.endswith("(property_id, received_at)"), definition


@pytest.fixture
def locale_site(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Site]:
    """An empty site; on PostgreSQL in a database whose collation is a locale's (ICU en-US,
    where 'B' sorts after 'a'), as an operator's server may well have by default."""
    if backend == "sqlite":
        site = Site(tmp_path / "stats.db")
        yield site
        site.conn.close()
        return
    server_url: str = request.getfixturevalue("postgres_server")
    name = postgres.database_name("journeys_icu")
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as admin:
        admin.execute(
            sql.SQL(
                "CREATE DATABASE {} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
                " LOCALE 'C.UTF-8'"
            ).format(sql.Identifier(name))
        )
    try:
        site = Site(f"{server_url}/{name}")
        yield site
        site.conn.close()
    finally:
        with psycopg.connect(f"{server_url}/postgres", autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_sessions_of_one_instant_are_ordered_as_on_sqlite(locale_site: Site) -> None:
    """Ties by session id, descending, in code point order ('a' after 'B') on both backends,
    whatever the PostgreSQL database's collation: the pages of an answer stay the same."""
    for session in ("B-upper", "a-lower", "C-upper"):
        locale_site.send(D + HOUR, path="/", session=session)
    assert ids(locale_site) == [
        ("a-lower", locale_site.main),
        ("C-upper", locale_site.main),
        ("B-upper", locale_site.main),
    ]
    assert ids(locale_site, limit=1, offset=1) == [("C-upper", locale_site.main)]
