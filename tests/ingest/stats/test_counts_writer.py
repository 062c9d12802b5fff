"""The collector's writer puts what it commits into the read API's rollups within seconds (on
SQLite by a fold past a watermark, on PostgreSQL by folding the deltas each commit appended),
and counts are exact before and after (real server, real HTTP, both backends)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.stats import counts, rollups
from ingest.storage.sql import connect
from tests import dbprobe
from tests.conftest import Server, serving
from tests.ingest.collect.conftest import provision


@pytest.fixture(scope="module")
def server(db_location: Path | str) -> Iterator[Server]:
    yield from serving(db_location)


def test_the_writer_folds_its_rows_within_seconds(server: Server, admin: httpx.Client) -> None:
    site = provision(server, admin)
    now = int(time.time() * 1000)
    events = [site.pageview(f"/blog/{i % 3}", ts=now - i * 60_000) for i in range(12)]
    assert site.send(*events).status_code == 202
    start, end = now - 3_600_000, now + 1

    def rolled_up() -> int:
        return int(
            dbprobe.value(
                server.db,
                "SELECT coalesce(sum(events), 0) FROM stats_quarters WHERE property_id = ?",
                (site.property_id,),
            )
        )

    conn = connect(server.db, create=False)
    try:  # exact whether folded yet or not
        assert sum(counts.by_class(conn, [site.property_id], start, end).values()) == 12
    finally:
        conn.close()
    deadline = time.monotonic() + rollups.FOLD_EVERY_S + 5
    while rolled_up() < 12 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert rolled_up() == 12
    conn = connect(server.db, create=False)
    try:
        rows = counts.breakdown(conn, [site.property_id], start, end, "path", "pageviews", None)
        assert sorted(rows) == [("/blog/0", 4), ("/blog/1", 4), ("/blog/2", 4)]
        assert sum(counts.by_class(conn, [site.property_id], start, end).values()) == 12
    finally:
        conn.close()
