"""The SQLite writer folds the read API's rollups from its own tally of what it committed
(unfolded_counts.py) when that tally covers exactly the rows past the watermark, and reads the
rows back otherwise: rows written by another connection (between the writer's groups or after
the last), rows deleted before they were folded, a group that failed. The rollups equal a naive
count of the stored rows in every case (real SQLite files, the writer's own group commit)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from ingest.collect.rollups import RollupRecorder
from ingest.collect.rows import Prepared, write_rows
from ingest.collect.writer import GroupCommitWriter
from ingest.stats import rollups
from ingest.stats.batch_rollups import Tally, count_bulk, count_into, rollup_rows
from ingest.stats.unfolded_counts import UnfoldedCounts
from ingest.storage.backend import migrate, open_database
from ingest.storage.postgres_rows import EVENT_COLUMNS
from ingest.storage.sql import Conn, connect
from loadtests.bench_pg_writer import Traffic
from tests.ingest.stats.test_rollups_exact import check, in_transaction, scattered


@pytest.fixture
def path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The writer folds when `first` (below) says so, and at close: the folds each test expects.
    monkeypatch.setattr(rollups, "FOLD_EVERY_S", 3600.0)
    migrate(tmp_path / "optiview.db")
    return tmp_path / "optiview.db"


async def first(writer: GroupCommitWriter, group: list[Prepared]) -> None:
    """Send a group, folding in its first commit and then in every other (the writer folds
    after a commit that did not); the tally restarts after each fold."""
    saved, rollups.FOLD_EVERY_S = rollups.FOLD_EVERY_S, 0.0
    try:
        await send(writer, group)
    finally:
        rollups.FOLD_EVERY_S = saved


@pytest.fixture
def groups() -> Callable[[int], list[Prepared]]:
    """Requests of generated traffic (sessions, bots, AI referrals), times scattered over
    hours; each call gives new ones."""
    rng = random.Random(7)
    traffic = Traffic("u", seed=7, property_ids=(1, 2))
    return lambda events: scattered(traffic.group(events), rng)


@asynccontextmanager
async def writing(
    path: Path, recorder: RollupRecorder | None = None
) -> AsyncIterator[GroupCommitWriter]:
    db = await open_database(path)
    # Small batches: many commits, each a group of the tally.
    # (An empty recorder is false.)
    recorder = RollupRecorder() if recorder is None else recorder
    writer = GroupCommitWriter(db, recorder, batch_events=40)
    writer.start()
    try:
        yield writer
    finally:
        await writer.close()  # the closing fold
        await db.close()


async def send(writer: GroupCommitWriter, group: list[Prepared]) -> None:
    await asyncio.gather(*(writer.submit(p) for p in group))


def foreign(path: Path, group: list[Prepared]) -> None:
    """Rows written by another connection (another worker's writer, an import)."""
    in_transaction(path, lambda conn: write_rows(conn, group))


def folds(writer: GroupCommitWriter) -> tuple[int, int]:
    return writer.unfolded.folds_counted, writer.unfolded.folds_read


def stored(path: Path, sql: str) -> int:
    conn = connect(path, create=False)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def test_the_writer_folds_its_tally_without_reading_the_rows(
    path: Path, groups: Callable[[int], list[Prepared]]
) -> None:
    async def scenario() -> GroupCommitWriter:
        async with writing(path) as writer:
            await first(writer, groups(120))
            for _ in range(3):
                await send(writer, groups(120))
        return writer

    writer = asyncio.run(scenario())
    counted, read = folds(writer)
    # The first fold reads (the writer knows no ids yet); the later ones add the tally.
    assert counted >= 1 and read == 1
    assert check(path) == 480
    assert stored(path, "SELECT events_id FROM stats_folded") == 480


def test_rows_written_between_two_groups_are_read(
    path: Path, groups: Callable[[int], list[Prepared]]
) -> None:
    async def scenario() -> GroupCommitWriter:
        async with writing(path) as writer:
            await first(writer, groups(60))
            await send(writer, groups(60))
            foreign(path, groups(30))
            await send(writer, groups(60))
        return writer

    writer = asyncio.run(scenario())
    assert folds(writer)[1] == 2  # the first fold, and the closing one
    assert check(path) == 210


def test_rows_written_after_the_last_group_are_read(
    path: Path, groups: Callable[[int], list[Prepared]]
) -> None:
    async def scenario() -> GroupCommitWriter:
        async with writing(path) as writer:
            await first(writer, groups(60))
            await send(writer, groups(60))
            foreign(path, groups(30))
        return writer

    writer = asyncio.run(scenario())
    assert folds(writer)[1] == 2
    assert check(path) == 150


def test_rows_deleted_before_their_fold_are_not_counted(
    path: Path, groups: Callable[[int], list[Prepared]]
) -> None:
    deleted = 0

    def purge(conn: Conn) -> None:
        """As the purge does, of rows past the watermark but not the newest: only the count
        past the watermark can tell."""
        nonlocal deleted
        for table, watermark in zip(("events", "ai_referrals"), rollups.folded(conn), strict=True):
            ids = [
                row[0]
                for row in conn.execute(
                    f"SELECT id FROM {table} WHERE id > ? AND id < (SELECT max(id) FROM {table})"
                    " AND id % 2 = 0",
                    (watermark,),
                )
            ]
            assert ids or table == "ai_referrals"
            rollups.subtract(conn, table, ids)  # adds nothing back: they were never folded
            conn.execute(f"DELETE FROM {table} WHERE id IN ({', '.join(map(str, ids)) or 0})")
            deleted += len(ids) if table == "events" else 0

    async def scenario() -> GroupCommitWriter:
        async with writing(path) as writer:
            await first(writer, groups(60))
            await send(writer, groups(120))
            in_transaction(path, purge)
        return writer

    writer = asyncio.run(scenario())
    assert folds(writer)[1] == 2
    assert deleted > 0
    assert check(path) == 180 - deleted


def test_a_failed_group_leaves_nothing_counted(
    path: Path, groups: Callable[[int], list[Prepared]]
) -> None:
    """A group whose rows are written and whose transaction then fails (on the request
    rollups, after the rows): rolled back, it must not be counted. The next group gets the same
    ids; a tally holding the failed group's rows too would not match the rows past the
    watermark (and the closing fold would read them) or would add them (and be wrong)."""
    recorder = RollupRecorder()
    refuse = (
        "CREATE TRIGGER refuse BEFORE INSERT ON request_rollups WHEN NEW.minute = 60000"
        " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
    )

    async def scenario() -> GroupCommitWriter:
        async with writing(path, recorder) as writer:
            await first(writer, groups(60))
            await send(writer, groups(60))
            in_transaction(path, lambda conn: conn.execute(refuse))
            # The refused rollups go with the next commits (no await before the submits).
            recorder.record(60_000, 202, 1.0, 1)
            failed = await asyncio.gather(
                *(writer.submit(p) for p in groups(60)), return_exceptions=True
            )
            assert all("refused by the test" in str(result) for result in failed)
            in_transaction(path, lambda conn: conn.execute("DROP TRIGGER refuse"))
            await send(writer, groups(60))
        return writer

    writer = asyncio.run(scenario())
    counted, read = folds(writer)
    assert counted >= 1 and read == 1  # only the first fold reads
    assert check(path) == 180


def test_a_rolled_back_fold_restarts_the_tally(
    path: Path, groups: Callable[[int], list[Prepared]]
) -> None:
    """The tally's own steps, in transactions of one connection: it counts from its first
    fold on; a fold that rolls back leaves its group in no tally, and nothing is counted until
    the next fold, which reads the rows."""
    tally = UnfoldedCounts()
    conn = connect(path, create=False)

    def commit(group: list[Prepared], fold: bool = False, keep: bool = True) -> None:
        conn.execute("BEGIN IMMEDIATE")
        write_rows(conn, group)
        if fold:
            tally.fold(conn, group)
        conn.execute("COMMIT" if keep else "ROLLBACK")
        if not keep:
            tally.failed(fold)
        elif fold:
            tally.folded()
        else:
            tally.committed(group)

    def folds() -> tuple[int, int]:
        return tally.folds_counted, tally.folds_read

    def counting() -> bool:
        return tally.counting

    try:
        commit(groups(50))
        assert not counting()
        commit(groups(50), fold=True)
        assert folds() == (0, 1) and counting()
        commit(groups(50))
        commit(groups(50), fold=True)
        assert folds() == (1, 1)
        commit(groups(50))
        commit(groups(50), fold=True, keep=False)
        assert not counting()
        commit(groups(50))
        commit([], fold=True)
        assert folds() == (1, 2)
        commit(groups(50))
        commit(groups(50), fold=True)
        assert folds() == (2, 2)
        commit(groups(50), keep=False)
        commit(groups(50))
        commit([], fold=True)
        assert folds() == (3, 2)
    finally:
        conn.close()
    assert check(path) == 450  # 11 groups of 50, two rolled back


def test_counting_in_bulk_equals_counting_row_by_row(
    groups: Callable[[int], list[Prepared]],
) -> None:
    """The fold's count_bulk and the commits' count_into follow the same rules: also for
    times before 1970 and on bucket edges (SQL truncates toward zero), NULL and non-text
    values, and every event type."""
    requests = groups(600)
    events = [r for p in requests for r in p.events]
    referrals = [r for p in requests for r in p.referrals]
    ts, kind, name = (EVENT_COLUMNS.index(c) for c in ("ts", "type", "name"))
    odd = []
    for i, row in enumerate(events[:80]):
        moved = [-1, -900_000, -900_001, -3_600_001, 0, 899_999, 3_600_000][i % 7]
        row = (*row[:ts], moved, *row[ts + 1 :])
        row = (*row[:kind], ("pageview", "click", "custom", "conversion")[i % 4], *row[kind + 1 :])
        odd.append((*row[:name], (None, 7, "")[i % 3], *row[name + 1 :]))
    events += odd
    assert {r[kind] for r in events} == {"pageview", "click", "custom", "conversion"}
    row_by_row: tuple[Tally, Tally] = ({}, {})
    bulk: tuple[Tally, Tally] = ({}, {})
    count_into(*row_by_row, events, referrals)
    count_bulk(*bulk, events, referrals)
    assert [rollup_rows(t) for t in bulk] == [rollup_rows(t) for t in row_by_row]
    assert sum(c[0] for c in row_by_row[0].values()) == len(events)
    assert sum(c[3] for c in row_by_row[0].values()) == len(referrals) > 0
