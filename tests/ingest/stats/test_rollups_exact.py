"""The read API's rollups equal a naive count over the stored rows, on both backends, after
randomized traffic through the collector's own group commit writer, a purge-like delete and a
rebuild. On SQLite the writer folds by id past a watermark; on PostgreSQL each commit appends
its own counts to the pending deltas (batch_rollups.py), which a fold moves into the rollups:
either way, every row is counted once, as readers read them (the rollups with their pending
deltas) and, after a fold, in the rollups alone."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from ingest.collect.rollups import RollupRecorder
from ingest.collect.rows import Prepared
from ingest.collect.writer import GroupCommitWriter
from ingest.stats import rollups
from ingest.stats.batch_rollups import bucket, count_rows
from ingest.storage.backend import migrate, open_database
from ingest.storage.postgres_rows import EVENT_COLUMNS, REFERRAL_COLUMNS
from ingest.storage.sql import Conn, connect
from loadtests.bench_pg_writer import Traffic

TS = EVENT_COLUMNS.index("ts")
LANDED_AT = REFERRAL_COLUMNS.index("landed_at")
Table = dict[tuple[Any, ...], tuple[int, ...]]


def scattered(group: list[Prepared], rng: random.Random) -> list[Prepared]:
    """The group with each request's times moved by up to three hours either way, so rows land
    in many quarters and hours (and a few on their edges)."""
    moved = []
    for p in group:
        shift = rng.choice((0, 1, -1, 900_000, -3_600_000)) + rng.randrange(-10_800_000, 10_800_000)
        events = [(*e[:TS], e[TS] + shift, *e[TS + 1 :]) for e in p.events]
        referrals = [
            (*r[:LANDED_AT], r[LANDED_AT] + shift, *r[LANDED_AT + 1 :]) for r in p.referrals
        ]
        moved.append(Prepared(p.count, events, p.sessions, p.content, referrals))
    return moved


COUNTERS = "sum(events), sum(pageviews), sum(conversions), sum(ai_referrals)"


def stored_rollups(conn: Conn) -> tuple[Table, Table]:
    """The rollups as readers see them (on PostgreSQL with the pending deltas added), keys
    whose counts add up to nothing left out."""
    quarters = conn.execute(
        f"SELECT property_id, quarter, ua_class, {COUNTERS}"
        f" FROM {rollups.table(conn, 'stats_quarters')} GROUP BY 1, 2, 3"
    ).fetchall()
    hours = conn.execute(
        f"SELECT property_id, dimension, hour, ua_class, value, {COUNTERS}"
        f" FROM {rollups.table(conn, 'stats_hours')} GROUP BY 1, 2, 3, 4, 5"
    ).fetchall()
    return {tuple(r[:3]): tuple(r[3:]) for r in quarters if any(r[3:])}, {
        tuple(r[:5]): tuple(r[5:]) for r in hours if any(r[5:])
    }


def pending_rows(location: Path | str) -> int:
    """Deltas waiting for a fold (always 0 on SQLite, whose pending tables stay empty)."""
    conn = connect(location, create=False)
    try:
        return int(
            conn.execute(
                "SELECT (SELECT count(*) FROM stats_quarters_pending)"
                " + (SELECT count(*) FROM stats_hours_pending)"
            ).fetchone()[0]
        )
    finally:
        conn.close()


def folded_exactly(location: Path | str) -> None:
    """Fold (on PostgreSQL the pending deltas, on SQLite past the watermark); then nothing is
    pending, the rollups alone are exact and no rollup row is left at zero."""
    in_transaction(location, rollups.fold)
    assert pending_rows(location) == 0
    check(location)
    conn = connect(location, create=False)
    try:
        for table in ("stats_quarters", "stats_hours"):
            empty = f"SELECT count(*) FROM {table} WHERE events = 0 AND ai_referrals = 0"
            assert conn.execute(empty).fetchone()[0] == 0
    finally:
        conn.close()


def naive_rollups(conn: Conn) -> tuple[Table, Table]:
    """What the rollups must hold, counted from the stored rows one way only."""
    quarters: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    hours: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    dims = ", ".join(rollups.EVENT_DIMENSIONS)
    for prop, ts, ua_class, kind, *values in conn.execute(
        f"SELECT property_id, ts, ua_class, type, {dims} FROM events"
    ):
        at = {"pageview": 1, "conversion": 2}.get(kind)
        keys = [(quarters, (prop, bucket(ts, rollups.QUARTER_MS), ua_class))] + [
            (hours, (prop, d, bucket(ts, rollups.HOUR_MS), ua_class, "" if v is None else v))
            for d, v in zip(rollups.EVENT_DIMENSIONS, values, strict=True)
        ]
        for table, key in keys:
            table[key][0] += 1
            if at is not None:
                table[key][at] += 1
    dims = ", ".join(rollups.REFERRAL_DIMENSIONS)
    for prop, landed, ua_class, *values in conn.execute(
        f"SELECT property_id, landed_at, ua_class, {dims} FROM ai_referrals"
    ):
        ua = "" if ua_class is None else ua_class
        quarters[(prop, bucket(landed, rollups.QUARTER_MS), ua)][3] += 1
        for d, v in zip(rollups.REFERRAL_DIMENSIONS, values, strict=True):
            hours[(prop, d, bucket(landed, rollups.HOUR_MS), ua, "" if v is None else v)][3] += 1
    return {k: tuple(v) for k, v in quarters.items()}, {k: tuple(v) for k, v in hours.items()}


def check(location: Path | str) -> int:
    """Compare; return the number of events counted."""
    conn = connect(location, create=False)
    try:
        stored, expected = stored_rollups(conn), naive_rollups(conn)
    finally:
        conn.close()
    assert stored[0] == expected[0]
    assert stored[1] == expected[1]
    return sum(counts[0] for counts in stored[0].values())


# The SQLite writer's folds by each way, per database written: (counted, read).
FOLDS: dict[str, tuple[int, int]] = {}


async def write_through_the_writer(location: Path | str, groups: list[list[Prepared]]) -> None:
    db = await open_database(location)
    # Small batches: many commits, and requests of one gather split across them.
    writer = GroupCommitWriter(db, RollupRecorder(), batch_events=40)
    writer.start()
    try:
        for group in groups:
            await asyncio.gather(*(writer.submit(p) for p in group))
    finally:
        await writer.close()  # on SQLite, the closing fold
        await db.close()
    FOLDS[str(location)] = (writer.unfolded.folds_counted, writer.unfolded.folds_read)


def in_transaction(location: Path | str, work: Any) -> None:
    conn = connect(location, create=False)
    try:
        conn.execute("BEGIN IMMEDIATE")
        work(conn)
        conn.execute("COMMIT")
    finally:
        conn.close()


WRITTEN = 8 * 150


@pytest.fixture(scope="module")
def written(db_location: Path | str) -> Path | str:
    migrate(db_location)
    rng = random.Random(13)
    traffic = Traffic("x", seed=13, property_ids=(1, 2, 3))
    groups = [scattered(traffic.group(WRITTEN // 8), rng) for _ in range(8)]
    assert any(p.referrals for g in groups for p in g)
    asyncio.run(write_through_the_writer(db_location, groups))
    return db_location


def test_rollups_equal_a_naive_count_after_the_writer(written: Path | str) -> None:
    assert check(written) == WRITTEN
    if isinstance(written, Path):  # SQLite: the writer's folds after its first added its tally
        counted, read = FOLDS[str(written)]
        assert counted >= 1 and read == 1  # the closing fold counted, the first commit's read
    folded_exactly(written)


def test_a_purge_subtracting_its_rows_keeps_them_equal(written: Path | str) -> None:
    def purge(conn: Conn) -> None:
        for table in sorted(rollups.ROLLED_UP_TABLES):
            ids = [row[0] for row in conn.execute(f"SELECT id FROM {table} WHERE id % 3 = 0")]
            assert ids
            rollups.subtract(conn, table, ids)
            conn.execute(f"DELETE FROM {table} WHERE id % 3 = 0")

    in_transaction(written, purge)
    if isinstance(written, str):  # PostgreSQL: the purge appended negative deltas
        assert pending_rows(written) > 0
    check(written)
    folded_exactly(written)


def test_a_rebuild_gives_the_same_rollups(written: Path | str) -> None:
    conn = connect(written, create=False)
    try:
        before = stored_rollups(conn)
    finally:
        conn.close()
    in_transaction(written, rollups.rebuild)
    check(written)
    conn = connect(written, create=False)
    try:
        assert stored_rollups(conn) == before
    finally:
        conn.close()


def test_count_rows_puts_keys_in_order() -> None:
    traffic = Traffic("o", seed=3, property_ids=(1, 2))
    group = traffic.group(100)
    quarters, hours = count_rows(
        (r for p in group for r in p.events), (r for p in group for r in p.referrals)
    )
    assert [r[:3] for r in quarters] == sorted(r[:3] for r in quarters)
    assert [r[:5] for r in hours] == sorted(r[:5] for r in hours)
    assert sum(r[3] for r in quarters) == sum(p.count for p in group)


@pytest.mark.parametrize(
    ("ms", "size", "expected"),
    [(0, 900, 0), (899, 900, 0), (900, 900, 900), (-1, 900, 0), (-901, 900, -900)],
)
def test_bucket_truncates_toward_zero_as_sql_does(ms: int, size: int, expected: int) -> None:
    assert bucket(ms, size) == expected
