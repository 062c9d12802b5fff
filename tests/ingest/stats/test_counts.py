"""Counts over a real database (SQLite file or PostgreSQL), written through the collector's own
write path for each backend."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ingest.collect.rows import Prepared, Row
from ingest.stats import counts
from ingest.storage.sql import Conn
from tests.ingest.stats.seeding import commit_rows

H = 3_600_000
T0 = 1_780_000_000_000 - 1_780_000_000_000 % (24 * H)  # a UTC midnight


def event(
    prop: int,
    ts: int,
    *,
    type: str = "pageview",
    ua_class: str = "human",
    path: str | None = "/",
    country: str | None = "DE",
    ai_source: str | None = None,
    session_id: str | None = None,
    name: str | None = None,
    received_at: int | None = None,
) -> Row:
    return (
        prop, "prj", "key", type, name, f"https://a.example{path or ''}", path, None, None,
        None, ai_source, "referrer" if ai_source else None, ua_class, None, None, "Chrome",
        "Linux", "desktop", country, "UA", session_id, None, ts,
        ts if received_at is None else received_at, 0, None, "collector", None,
    )  # fmt: skip


def write(
    conn: Conn,
    events: Sequence[Row],
    sessions: Sequence[Row] = (),
    referrals: Sequence[Row] = (),
) -> None:
    """One commit of the collector's writer (`db` is tests/ingest/stats/conftest.py's)."""
    commit_rows(conn, [Prepared(len(events), list(events), list(sessions), [], list(referrals))])


def test_series_counts_each_bucket_by_event_time(db: Conn) -> None:
    write(db, [
        event(1, T0), event(1, T0 + 30 * 60_000), event(1, T0 + H, type="click"),
        event(1, T0 + H + 1, ua_class="bot"), event(2, T0 + 5), event(1, T0 + 3 * H),
    ])  # fmt: skip
    edges = [T0, T0 + H, T0 + 2 * H, T0 + 3 * H]
    assert counts.series(db, [1], edges, "events", "human") == [2, 1, 0]
    assert counts.series(db, [1], edges, "events", None) == [2, 2, 0]
    assert counts.series(db, [1, 2], edges, "pageviews", None) == [3, 1, 0]
    assert counts.series(db, [], edges, "events", None) == [0, 0, 0]


def test_half_hour_buckets_split_an_hour(db: Conn) -> None:
    write(db, [event(1, T0 + m * 60_000) for m in range(0, 120, 10)])
    edges = [T0 - 30 * 60_000, T0 + 30 * 60_000, T0 + 90 * 60_000]
    assert counts.series(db, [1], edges, "events", "human") == [3, 6]


def test_breakdown_largest_first_with_unknown_values(db: Conn) -> None:
    write(db, [
        event(1, T0, country="FR"), event(1, T0 + 1, country="DE"),
        event(1, T0 + 2, country="DE"), event(1, T0 + 3, country=None),
        event(1, T0 + 4, country="US", ua_class="bot"),
    ])  # fmt: skip
    rows = counts.breakdown(db, [1], T0, T0 + H, "country", "events", "human")
    assert rows == [("DE", 2), ("FR", 1), (None, 1)]
    assert counts.breakdown(db, [1], T0, T0 + H, "country", "events", None)[-1] == (None, 1)


def test_content_type_follows_the_path(db: Conn) -> None:
    write(db, [
        event(1, T0, path="/blog/a"), event(1, T0 + 1, path="/blog/b"),
        event(1, T0 + 2, path="/docs/x"), event(1, T0 + 3, path="/"),
    ])  # fmt: skip
    rows = counts.breakdown(db, [1], T0, T0 + H, "content_type", "pageviews", "human")
    assert rows == [("blog", 2), ("docs", 1), ("home", 1)]


def test_sessions_and_referrals_by_their_own_times(db: Conn) -> None:
    sessions = [
        (1, "s1", "prj", "u", "/a", None, "chatgpt", "human", 1, T0 + 10, T0 + 10),
        (1, "s2", "prj", "u", "/b", None, None, "human", 1, T0 + H + 10, T0 + H + 10),
        (1, "s3", "prj", "u", "/b", None, None, "bot", 1, T0 + 20, T0 + 20),
    ]
    referrals = [
        (1, "prj", "s1", "chatgpt", "referrer", None, "u", "/a", T0 + 10, "human"),
        (1, "prj", "s9", "perplexity", "referrer", None, "u", "/a", T0 + H, "bot"),
    ]
    write(db, [event(1, T0)], sessions, referrals)
    edges = [T0, T0 + H, T0 + 2 * H]
    assert counts.series(db, [1], edges, "sessions", "human") == [1, 1]
    assert counts.series(db, [1], edges, "sessions", None) == [2, 1]
    assert counts.series(db, [1], edges, "ai_referrals", "human") == [1, 0]
    assert counts.series(db, [1], edges, "ai_referrals", None) == [1, 1]
    assert counts.breakdown(db, [1], T0, T0 + 2 * H, "path", "sessions", None) == [
        ("/b", 2), ("/a", 1)
    ]  # fmt: skip
    assert counts.breakdown(db, [1], T0, T0 + 2 * H, "ai_source", "ai_referrals", None) == [
        ("chatgpt", 1), ("perplexity", 1)
    ]  # fmt: skip


def test_unsupported_dimension_is_a_value_error(db: Conn) -> None:
    assert "country" not in counts.SUPPORTED["sessions"]
    with pytest.raises(ValueError, match="country"):
        counts.breakdown(db, [1], T0, T0 + H, "country", "sessions", None)
    with pytest.raises(ValueError, match="visits"):
        counts.series(db, [1], [T0, T0 + H], "visits", None)


def test_by_class_counts_every_class(db: Conn) -> None:
    write(db, [event(1, T0, ua_class="bot"), event(1, T0 + 1, ua_class="bot"), event(1, T0 + 2)])
    assert counts.by_class(db, [1], T0, T0 + H) == {
        "human": 1, "bot": 2, "ai_crawler": 0, "ai_agent": 0
    }  # fmt: skip


def test_conversions_count_for_the_source_their_session_landed_from(
    db: Conn,
) -> None:
    sessions = [
        (1, "s1", "prj", "u", "/a", None, "chatgpt", "human", 1, T0, T0),
        (1, "s2", "prj", "u", "/a", None, None, "human", 1, T0, T0),
    ]
    write(db, [
        event(1, T0, session_id="s1", ai_source="chatgpt"),
        event(1, T0 + 600_000, type="conversion", session_id="s1", name="signup"),
        event(1, T0 + 700_000, type="conversion", session_id="s1", name="signup"),
        event(1, T0 + 800_000, type="conversion", session_id="s2"),
        event(1, T0 + 900_000, type="conversion", session_id=None),
        event(1, T0 + 950_000, type="conversion", session_id="s1", ua_class="bot"),
    ], sessions)  # fmt: skip
    assert counts.attributed_conversions(db, [1], T0, T0 + H) == {"chatgpt": 2, None: 2}


def test_data_through_is_the_latest_receive_time(db: Conn) -> None:
    assert counts.data_through(db, [1, 2]) is None
    write(db, [event(1, T0, received_at=T0 + 5), event(2, T0, received_at=T0 + 9)])
    assert counts.data_through(db, [1]) == T0 + 5
    assert counts.data_through(db, [1, 2]) == T0 + 9
