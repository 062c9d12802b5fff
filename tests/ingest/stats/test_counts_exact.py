"""The fast counts (rollups plus the rows at the edges) equal a naive count of the rows, over
random ranges, zones of :30 and :45, classes and dimensions; also after a purge and after a
property is deleted."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from ingest.classify.content import content_type
from ingest.collect.rows import Prepared
from ingest.provisioning_changes.removal import remove
from ingest.stats import counts, rollups
from ingest.storage.sql import Conn
from purge.runner import run_purge
from tests.ingest.stats.conftest import add_org
from tests.ingest.stats.seeding import commit_rows
from tests.ingest.stats.test_counts import T0, event

H = 3_600_000
DAY = 24 * H
CLASSES = (None, "human", "bot", "ai_crawler", "ai_agent")
PATHS = ("/", "/blog/a", "/docs/b", "/pricing", None)
SOURCES = ("chatgpt", "perplexity", None, None)


def fill(conn: Conn, rng: random.Random, props: tuple[int, ...], now: int) -> None:
    """Batches as the writer commits them: events a few days around T0 (some received long
    after their client time), sessions and referrals consistent with them; folded into the
    rollups now and then, as the writer does."""
    for batch in range(30):
        events, sessions, referrals = [], [], []
        for i in range(rng.randint(1, 40)):
            prop = rng.choice(props)
            ts = T0 + rng.randint(-DAY, 3 * DAY)
            received = rng.choice([ts, ts + rng.randint(0, 40 * DAY), now - rng.randint(0, DAY)])
            ua = rng.choice(CLASSES[1:])
            source = rng.choice(SOURCES)
            sid = f"s{batch}-{i % 5}"
            kind = rng.choice(("pageview", "pageview", "click", "conversion", "custom"))
            path = rng.choice(PATHS)
            events.append(event(
                prop, ts, type=kind, ua_class=ua, path=path, country=rng.choice(("DE", "IN", None)),
                ai_source=source, session_id=sid, received_at=received,
                name="signup" if kind in ("conversion", "custom") else None,
            ))  # fmt: skip
            sessions.append((prop, sid, "prj", "u", path, None, source, ua, 1, received, received))
            if source and kind == "pageview":
                referrals.append(
                    (prop, "prj", sid, source, "referrer", None, "u", path, received,
                     rng.choice((ua, None)))
                )  # fmt: skip
        commit_rows(conn, [Prepared(len(events), events, [], [], referrals)])
        conn.execute("BEGIN")
        # Sessions through the collector's upsert would merge; plain rows keep the test short.
        conn.executemany(
            "INSERT INTO sessions (property_id, id, project_id, entry_url, entry_path,"
            " referrer, ai_source, ua_class, pageviews, events, started_at, last_seen_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT DO NOTHING",
            sessions,
        )
        # As the writer does every few seconds: the last batches stay past the watermark
        # (SQLite, read from the rows) or pending (PostgreSQL, read with the rollups).
        if batch % 3 == 0 and batch < 25:
            rollups.fold(conn)
        conn.execute("COMMIT")


NAIVE = {
    "events": ("events", "ts", ""),
    "pageviews": ("events", "ts", " AND type = 'pageview'"),
    "conversions": ("events", "ts", " AND type = 'conversion'"),
    "sessions": ("sessions", "started_at", ""),
    "ai_referrals": ("ai_referrals", "landed_at", ""),
}
COLUMN = {"sessions": {"path": "entry_path", "content_type": "entry_path"}}


def naive_count(
    conn: Conn,
    props: tuple[int, ...],
    a: int,
    b: int,
    metric: str,
    ua_class: str | None,
    dimension: str | None = None,
) -> Any:
    table, column, extra = NAIVE[metric]
    where = f"property_id IN ({','.join(map(str, props))}) AND {column} >= ? AND {column} < ?"
    params: list[object] = [a, b]
    if ua_class is not None:
        where += " AND ua_class = ?"
        params.append(ua_class)
    if dimension is None:
        return conn.execute(
            f"SELECT count(*) FROM {table} WHERE {where}{extra}", params
        ).fetchone()[0]
    col = COLUMN.get(metric, {}).get(
        dimension, "path" if dimension == "content_type" else dimension
    )
    found: dict[str | None, int] = {}
    for value, n in conn.execute(
        f"SELECT {col}, count(*) FROM {table} WHERE {where}{extra} GROUP BY {col}", params
    ):
        if dimension == "content_type":
            value = None if value is None else content_type(value)
        found[value] = found.get(value, 0) + n
    return sorted(((v, n) for v, n in found.items()), key=str)


def random_edges(rng: random.Random) -> list[int]:
    offset = rng.choice((0, 30, 45, -30)) * 60_000
    start = T0 - DAY + rng.randint(0, 3 * DAY) // 60_000 * 60_000
    if rng.random() < 0.3:  # arbitrary instants, not minute-aligned
        start += rng.randint(0, 59_999)
    step = rng.choice((60_000, 15 * 60_000, H, DAY))
    start = start - start % step + offset if rng.random() < 0.7 else start
    edges = [start + i * step for i in range(rng.randint(1, 40 if step < H else 8) + 1)]
    if rng.random() < 0.3:
        edges[-1] += rng.randint(1, step - 1)  # a short last bucket
    return edges


def check(conn: Conn, rng: random.Random, props: tuple[int, ...], rounds: int) -> None:
    for _ in range(rounds):
        edges = random_edges(rng)
        ua_class = rng.choice(CLASSES)
        metric = rng.choice(counts.METRICS)
        expected = [
            naive_count(conn, props, a, b, metric, ua_class) for a, b in itertools.pairwise(edges)
        ]
        assert counts.series(conn, props, edges, metric, ua_class) == expected, (edges, metric)
        dimension = rng.choice(sorted(counts.SUPPORTED[metric]))
        got = counts.breakdown(conn, props, edges[0], edges[-1], dimension, metric, ua_class)
        assert sorted(got, key=str) == naive_count(
            conn, props, edges[0], edges[-1], metric, ua_class, dimension
        )
        assert [n for _, n in got] == sorted((n for _, n in got), reverse=True)
        classes = counts.by_class(conn, props, edges[0], edges[-1])
        assert classes == {
            c: naive_count(conn, props, edges[0], edges[-1], "events", c) for c in CLASSES[1:]
        }


@pytest.fixture
def filled(db: Conn) -> tuple[Conn, tuple[int, ...], int]:
    """`db` (tests/ingest/stats/conftest.py) filled: the module's database, emptied first."""
    props = add_org(db, "org_a", "starter", properties=2)
    now = T0 + 120 * DAY
    fill(db, random.Random(12), props, now)
    return db, props, now


def test_fast_counts_equal_the_rows(
    filled: tuple[Conn, tuple[int, ...], int],
) -> None:
    conn, props, _ = filled
    rng = random.Random(7)
    check(conn, rng, props, 150)
    check(conn, rng, props[:1], 50)


def test_rollups_stay_exact_after_a_purge(
    filled: tuple[Conn, tuple[int, ...], int],
) -> None:
    conn, props, now = filled
    before = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    run_purge(conn, now, chunk_rows=7, pause_s=0)
    after = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    assert 0 < after < before  # a purge by receive time, with client times all over the range
    check(conn, random.Random(8), props, 100)
    # PostgreSQL: the purge appended negative deltas; exact before the fold (above) and after.
    conn.execute("BEGIN")
    rollups.fold(conn)
    conn.execute("COMMIT")
    check(conn, random.Random(8), props, 100)
    (empty,) = conn.execute(
        "SELECT count(*) FROM stats_hours WHERE events = 0 AND ai_referrals = 0"
    ).fetchone()
    assert empty == 0


def test_deleting_a_property_deletes_its_rollups(
    filled: tuple[Conn, tuple[int, ...], int],
) -> None:
    conn, props, _ = filled
    conn.execute("BEGIN IMMEDIATE")
    remove(conn, "property", props[0])
    conn.execute("COMMIT")
    for table in ("stats_quarters", "stats_hours", "stats_quarters_pending", "stats_hours_pending"):
        left = conn.execute(f"SELECT count(*) FROM {table} WHERE property_id = ?", (props[0],))
        assert left.fetchone()[0] == 0
    check(conn, random.Random(9), props, 60)
