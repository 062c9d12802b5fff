"""The write-ahead log is checkpointed beside the writer (checkpoint.py): never by the writer's
own commits below the hard bound, and never left to grow past it by a writer that never pauses.
Small bounds keep the test fast; the rows are real, in a real file."""

from __future__ import annotations

import itertools
import os
import sqlite3
from pathlib import Path

import pytest

from ingest.storage.database import Database

SOFT = 64 * 1024
HARD = 512 * 1024
ROW = "x" * 2000  # a commit of 8 rows adds about 5 pages to the log


def make_file(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    conn.close()


def wal_size(path: Path) -> int:
    try:
        return os.stat(f"{path}-wal").st_size
    except FileNotFoundError:
        return 0


def add_rows(conn: sqlite3.Connection) -> None:
    conn.executemany("INSERT INTO t (body) VALUES (?)", [(ROW,)] * 8)


@pytest.mark.asyncio
async def test_the_writer_never_checkpoints_below_the_bound_and_the_log_stays_bounded(
    tmp_path: Path,
) -> None:
    path = tmp_path / "o.db"
    make_file(path)
    db = await Database.open(path, wal_bounds=(SOFT, HARD))
    sizes = []
    try:
        autocheckpoint = await db.transaction(
            lambda c: c.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        )
        assert autocheckpoint == 0
        for _ in range(400):  # back to back, about 8 MB: sixteen times the hard bound
            await db.transaction(add_rows)
            sizes.append(wal_size(path))
        checkpointer = db._checkpointer
        assert checkpointer is not None
        # The thread did the checkpoints; the log restarted (its file cut back) again and again.
        assert checkpointer.background > 5
        assert max(sizes) <= HARD + 64 * 1024, max(sizes)
        assert sum(1 for a, b in itertools.pairwise(sizes) if b < a) > 3
        count = await db.read(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0])
        assert count == 400 * 8
    finally:
        await db.close()
    # Closed: the last connection checkpointed everything into the file itself.
    assert wal_size(path) == 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 400 * 8
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


@pytest.mark.asyncio
async def test_past_the_hard_bound_the_writer_checkpoints_itself(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    make_file(path)
    # A soft bound the log never passes before the hard one does: the thread is never asked,
    # so only the writer's own checkpoints keep the log from growing.
    db = await Database.open(path, wal_bounds=(HARD, HARD // 2))
    try:
        for _ in range(200):
            await db.transaction(add_rows)
            assert wal_size(path) <= HARD + 64 * 1024
        checkpointer = db._checkpointer
        assert checkpointer is not None
        assert checkpointer.inline > 2
        assert checkpointer.background == 0
    finally:
        await db.close()


@pytest.mark.asyncio
async def test_inline_checkpoints_when_asked(tmp_path: Path) -> None:
    """The benchmark's baseline: SQLite's own checkpoint in the commits, no thread."""
    path = tmp_path / "o.db"
    make_file(path)
    db = await Database.open(path, checkpoints_apart=False)
    try:
        autocheckpoint = await db.transaction(
            lambda c: c.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        )
        assert autocheckpoint == 1000
        assert db._checkpointer is None
    finally:
        await db.close()
