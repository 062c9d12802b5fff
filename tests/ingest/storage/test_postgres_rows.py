"""The PostgreSQL group commit writes what the SQLite one writes: the same prepared groups,
made by the collector's own enrich/prepare, leave every table with the same rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ingest.collect.enrich import RequestContext, enrich
from ingest.collect.parse import IncomingEvent
from ingest.collect.rows import Prepared, prepare
from ingest.collect.rows import write_rows as write_sqlite_rows
from ingest.sources import PINNED_IDS
from ingest.storage.connection import connect
from ingest.storage.migrations import migrate_database as migrate_sqlite
from ingest.storage.pg_migrations import migrate_database
from ingest.storage.postgres_rows import merge_content, merge_sessions, write_rows
from loadtests.bench_pg_writer import CHATGPT_USER, CHROME, GPTBOT, Traffic

TABLES = {
    "events": "id",
    "sessions": "property_id, id",
    "content": "property_id, path",
    "ai_referrals": "id",
}


def request(
    events: list[tuple[str, str | None, str | None, str | None]],
    *,
    session: str | None,
    received_at: int,
    ua: str = CHROME,
    property_id: int = 1,
) -> Prepared:
    """(type, path, referrer, title) per event, on site1.example."""
    incoming = [
        IncomingEvent(
            type=kind,
            name=None if kind == "pageview" else "signup",
            url=None if path is None else f"https://site1.example{path}",
            referrer=referrer,
            title=title,
            ts=received_at - n,
            session_id=session,
            props_json=None,
            user_agent=None,
        )
        for n, (kind, path, referrer, title) in enumerate(events)
    ]
    context = RequestContext(ua, False, "site1.example", frozenset(PINNED_IDS), "DE")
    return prepare(enrich(incoming, context), "key_rows", property_id, "prj_rows", received_at)


def edge_cases() -> list[list[Prepared]]:
    """Groups that exercise each merge rule inside one group and across groups."""
    first = [
        # A session whose first event is a click: the pageview after it sets the landing.
        request(
            [("click", "/a", None, None), ("pageview", "/a", "https://chatgpt.com/", "A")],
            session="s1",
            received_at=1_000,
        ),
        request(
            [("pageview", "/b", "https://www.google.com/", None)], session="s1", received_at=1_010
        ),
        request([("pageview", "/a", None, None)], session="s2", received_at=990),
        request([("pageview", "/a", None, "A2")], session=None, received_at=1_020, ua=GPTBOT),
        request(
            [("pageview", "/c", "https://chatgpt.com/", "C")],
            session="s3",
            received_at=1_005,
            ua=CHATGPT_USER,
        ),
        request([("custom", None, None, None)], session="s4", received_at=1_030),
    ]
    second = [
        request(
            [("pageview", "/a", "https://chatgpt.com/", None)], session="s4", received_at=2_000
        ),
        request([("pageview", "/b", None, "B")], session="s1", received_at=1_500),
        request([("pageview", "/a", None, None)], session="s2", received_at=900),
    ]
    return [first, second]


def sqlite_tables(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: conn.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()
        for table, key in TABLES.items()
    }


def postgres_tables(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()
            for table, key in TABLES.items()
        }


def write_both(groups: list[list[Prepared]], tmp_path: Path, url: str) -> None:
    path = tmp_path / "o.db"
    migrate_sqlite(path)
    conn = connect(path)
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute("TRUNCATE events, sessions, content, ai_referrals RESTART IDENTITY")
        for group in groups:  # one group commit each
            conn.execute("BEGIN IMMEDIATE")
            write_sqlite_rows(conn, group)
            conn.execute("COMMIT")
            with pg.transaction():
                write_rows(pg, group)
    try:
        assert postgres_tables(url) == sqlite_tables(conn)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def url(postgres_db: str) -> str:
    migrate_database(postgres_db)
    return postgres_db


def test_edge_cases_leave_the_same_rows(url: str, tmp_path: Path) -> None:
    groups = edge_cases()
    assert any(p.referrals for g in groups for p in g)
    write_both(groups, tmp_path, url)
    sessions = {row[1]: row for row in postgres_tables(url)["sessions"]}
    # s1: landed on /a from chatgpt (its first pageview), 3 pageviews in 4 events.
    assert sessions["s1"][3:10] == (
        "https://site1.example/a",
        "/a",
        "https://chatgpt.com/",
        "chatgpt",
        "human",
        3,
        4,
    )


def test_realistic_traffic_leaves_the_same_rows(url: str, tmp_path: Path) -> None:
    traffic = Traffic("t", seed=7, property_ids=(1, 2, 3))
    groups = [traffic.group(200) for _ in range(12)]
    events = [r for g in groups for p in g for r in p.events]
    sessions = [r for g in groups for p in g for r in p.sessions]
    # Several events per session and page, in one group and across groups.
    assert len({r[1] for r in sessions}) < len(sessions) / 2
    assert len({r[6] for r in events}) < len(events) / 10
    assert any(p.referrals for g in groups for p in g)
    write_both(groups, tmp_path, url)


def test_merges_put_keys_in_order_with_one_row_each() -> None:
    group = edge_cases()[0]
    sessions = merge_sessions(r for p in group for r in p.sessions)
    assert [r[:2] for r in sessions] == [(1, "s1"), (1, "s2"), (1, "s3"), (1, "s4")]
    assert [r[9] for r in sessions] == [3, 1, 1, 1]  # events per session
    content = merge_content(r for p in group for r in p.content)
    assert [r[:2] for r in content] == [(1, "/a"), (1, "/b"), (1, "/c")]
    assert content[0][4] == "A2"  # the last title given
