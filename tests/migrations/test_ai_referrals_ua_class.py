"""0005 backfills ai_referrals.ua_class from the pageview each referral was written with."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ingest.storage.migrations import apply_pending, available

T = 1_800_000_000_000


def test_existing_referrals_take_the_class_of_their_pageview(tmp_path: Path):
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    before = [m for m in available() if m.name < "0005"]
    apply_pending(conn, before)

    def pageview(session: str | None, ua_class: str, at: int, url: str = "https://a.com/x") -> None:
        conn.execute(
            "INSERT INTO events (property_id, project_id, key_id, type, url, ai_source, ua_class,"
            " session_id, ts, received_at) VALUES (1, 'p', 'k', 'pageview', ?, 'chatgpt', ?, ?,"
            " ?, ?)",
            (url, ua_class, session, at, at),
        )

    def referral(session: str | None, at: int, url: str = "https://a.com/x") -> None:
        conn.execute(
            "INSERT INTO ai_referrals (property_id, project_id, session_id, ai_source, via, url,"
            " landed_at) VALUES (1, 'p', ?, 'chatgpt', 'referrer', ?, ?)",
            (session, url, at),
        )

    pageview("h", "human", T)
    referral("h", T)
    pageview("b", "bot", T + 1)
    referral("b", T + 1)
    # no session id on either side still matches
    pageview(None, "ai_agent", T + 2)
    referral(None, T + 2)
    # two requests in the same millisecond: the class that is not human wins
    pageview("same", "human", T + 3)
    pageview("same", "bot", T + 3)
    referral("same", T + 3)
    referral("purged", T + 4)  # its pageview is gone: unknown

    apply_pending(conn)

    rows = conn.execute("SELECT session_id, ua_class FROM ai_referrals ORDER BY id").fetchall()
    assert rows == [("h", "human"), ("b", "bot"), (None, "ai_agent"), ("same", "bot"),
                    ("purged", None)]  # fmt: skip
    conn.close()


def test_the_class_is_checked(tmp_path: Path):
    conn = sqlite3.connect(tmp_path / "new.db", isolation_level=None)
    apply_pending(conn)
    insert = (
        "INSERT INTO ai_referrals (property_id, project_id, ai_source, via, landed_at, ua_class)"
        " VALUES (1, 'p', 'chatgpt', 'referrer', 0, ?)"
    )
    conn.execute(insert, ("human",))
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute(insert, ("robot",))
    conn.close()
