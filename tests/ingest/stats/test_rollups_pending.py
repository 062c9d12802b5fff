"""PostgreSQL's pending rollup deltas (0012_stats_pending.sql): commits append, one fold at a
time moves them, and readers are exact throughout.

Several PostgresDatabase writers (a node's writer thread and connection each, with the group
commit writer's own fold task, folding far more often than in service) commit at once while a
checker compares, in single REPEATABLE READ snapshots, the rollups as readers see them with a
naive count of the stored rows; they must agree in every snapshot, before any fold (pending
only), between folds and after the last one (nothing pending)."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator

import pytest

from ingest.collect.rollups import RollupRecorder
from ingest.collect.rows import Prepared
from ingest.collect.writer import GroupCommitWriter
from ingest.stats import rollups
from ingest.stats.batch_rollups import write_rollups
from ingest.storage import postgres_rows
from ingest.storage.backend import migrate
from ingest.storage.postgres_database import PostgresDatabase
from ingest.storage.sql import PgConn, connect
from loadtests.bench_pg_writer import Traffic, renamed
from tests.ingest.stats.test_rollups_exact import (
    naive_rollups,
    pending_rows,
    scattered,
    stored_rollups,
)

WRITERS = 3
GROUPS = 12
EVENTS = 30


@pytest.fixture(scope="module")
def url(postgres_db: str) -> str:
    migrate(postgres_db)
    return postgres_db


@pytest.fixture
def empty(url: str) -> Iterator[str]:
    yield url
    conn = connect(url, create=False)
    try:
        for table in ("events", "sessions", "content", "ai_referrals", "stats_quarters",
                      "stats_hours", "stats_quarters_pending", "stats_hours_pending"):  # fmt: skip
            conn.execute(f"DELETE FROM {table}")
    finally:
        conn.close()


def snapshot_check(url: str) -> int:
    """Readers' rollups against the rows, in one snapshot; the events counted."""
    conn = connect(url, create=False)
    try:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        stored, expected = stored_rollups(conn), naive_rollups(conn)
        conn.execute("COMMIT")
    finally:
        conn.close()
    assert stored == expected
    return sum(counts[0] for counts in stored[0].values())


def test_readers_are_exact_with_pending_deltas_only_then_after_a_fold(empty: str) -> None:
    traffic = Traffic("p", seed=5, property_ids=(1, 2))
    rng = random.Random(5)
    conn = connect(empty, create=False)
    try:
        assert isinstance(conn, PgConn)
        for _ in range(4):
            conn.execute("BEGIN")
            group = scattered(traffic.group(25), rng)
            postgres_rows.write_rows(conn.raw, group)
            write_rollups(conn.raw, group)
            conn.execute("COMMIT")
        # Nothing in the rollups themselves yet: the commits only appended deltas.
        assert conn.execute("SELECT count(*) FROM stats_quarters").fetchone()[0] == 0
    finally:
        conn.close()
    assert pending_rows(empty) > 0
    assert snapshot_check(empty) == 100
    conn = connect(empty, create=False)
    try:
        conn.execute("BEGIN")
        assert rollups.fold(conn) is True
        conn.execute("COMMIT")
        assert conn.execute("SELECT sum(events) FROM stats_quarters").fetchone()[0] == 100
    finally:
        conn.close()
    assert pending_rows(empty) == 0
    assert snapshot_check(empty) == 100


def test_one_fold_at_a_time_the_other_skips(empty: str) -> None:
    first, second = connect(empty, create=False), connect(empty, create=False)
    try:
        first.execute("BEGIN")
        second.execute("BEGIN")
        assert rollups.fold(first) is True
        assert rollups.fold(second) is False  # the lock is held until first's COMMIT
        second.execute("COMMIT")
        first.execute("COMMIT")
        second.execute("BEGIN")
        assert rollups.fold(second) is True  # released with the transaction
        second.execute("COMMIT")
    finally:
        first.close()
        second.close()


def test_concurrent_writers_with_interleaved_folds_end_exact(
    empty: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every writer folds every 20 ms (in service: FOLD_EVERY_S), so folds interleave with
    # every writer's commits and contend for the fold lock.
    monkeypatch.setattr(rollups, "FOLD_EVERY_S", 0.02)
    rng = random.Random(21)
    traffic = [Traffic(f"c{w}", seed=w + 21, property_ids=(1, 2, 3)) for w in range(WRITERS)]
    groups = [[scattered(renamed(t.group(EVENTS), n), rng) for n in range(GROUPS)] for t in traffic]
    checked: list[int] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def checker() -> None:
        try:
            while not done.is_set():
                checked.append(snapshot_check(empty))
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)

    async def node(node_groups: list[list[Prepared]]) -> None:
        db = await PostgresDatabase.open(empty)
        writer = GroupCommitWriter(db, RollupRecorder(), batch_events=20)
        writer.start()
        try:
            for group in node_groups:
                await asyncio.gather(*(writer.submit(p) for p in group))
                await asyncio.sleep(0.005)
        finally:
            await writer.close()  # its last fold
            await db.close()

    async def run() -> None:
        await asyncio.gather(*(node(g) for g in groups))

    thread = threading.Thread(target=checker)
    thread.start()
    try:
        asyncio.run(run())
    finally:
        done.set()
        thread.join()
    assert not failures, failures[0]
    assert len(checked) >= 3  # snapshots taken mid-run, with deltas pending
    assert checked == sorted(checked)  # each snapshot saw at least the previous one's events
    total = WRITERS * GROUPS * EVENTS
    assert snapshot_check(empty) == total
    assert pending_rows(empty) == 0  # the last fold moved everything
    conn = connect(empty, create=False)
    try:
        assert conn.execute("SELECT sum(events) FROM stats_quarters").fetchone()[0] == total
    finally:
        conn.close()
