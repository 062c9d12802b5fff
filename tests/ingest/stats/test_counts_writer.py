"""The collector's writer folds what it commits into the read API's rollups within seconds,
and counts are exact before and after the fold (real server, real HTTP)."""

from __future__ import annotations

import sqlite3
import time

import httpx

from ingest.stats import counts, rollups
from tests.conftest import Server
from tests.ingest.collect.conftest import provision


def test_the_writer_folds_its_rows_within_seconds(server: Server, admin: httpx.Client) -> None:
    site = provision(server, admin)
    now = int(time.time() * 1000)
    events = [site.pageview(f"/blog/{i % 3}", ts=now - i * 60_000) for i in range(12)]
    assert site.send(*events).status_code == 202
    start, end = now - 3_600_000, now + 1

    def rolled_up() -> int:
        with sqlite3.connect(server.db) as conn:
            row = conn.execute(
                "SELECT ifnull(sum(events), 0) FROM stats_quarters WHERE property_id = ?",
                (site.property_id,),
            ).fetchone()
            return int(row[0])

    with sqlite3.connect(server.db) as conn:  # exact whether folded yet or not
        assert sum(counts.by_class(conn, [site.property_id], start, end).values()) == 12
    deadline = time.monotonic() + rollups.FOLD_EVERY_S + 5
    while rolled_up() < 12 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert rolled_up() == 12
    with sqlite3.connect(server.db) as conn:
        rows = counts.breakdown(conn, [site.property_id], start, end, "path", "pageviews", None)
        assert sorted(rows) == [("/blog/0", 4), ("/blog/1", 4), ("/blog/2", 4)]
        assert sum(counts.by_class(conn, [site.property_id], start, end).values()) == 12
