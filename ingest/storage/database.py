"""One writer thread per database file; reads on a small pool of reader threads.

Handlers never write: they hand a function to `Database.transaction`, which runs it whole on
the writer thread inside BEGIN IMMEDIATE and commits before the awaiting coroutine resumes
(Datasette's pattern). A transaction is one hop between the event loop and the thread: with a
statement-per-hop async driver, each hop also waits for a busy event loop to notice it, which
made a group commit several times slower (see the collector's benchmark notes).

Every transaction has a deadline: SQLite's busy_timeout is set to the time left before each
BEGIN IMMEDIATE, so time spent queued behind another write counts against the same budget.
Before every COMMIT the file at the path is checked to still be the one opened (datafile.py).
The write-ahead log is checkpointed beside the writer, not in its commits (checkpoint.py).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, TypeVar

from ingest.storage.checkpoint import HARD_BYTES, SOFT_BYTES, Checkpointer
from ingest.storage.connection import BUSY_TIMEOUT_MS, connect
from ingest.storage.datafile import FileIdentity, identity, lost_reason

log = logging.getLogger("optiview.storage")

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]
READER_THREADS = 2

# Conditions that pass with time or operator action, as opposed to bugs in our SQL.
_UNAVAILABLE_MARKERS = ("locked", "busy", "disk i/o", "unable to open", "readonly", "full")


class StorageUnavailable(Exception):
    """The database could not take the work now (locked past busy_timeout, disk, I/O)."""


class CommitOutcomeUnknown(StorageUnavailable):
    """The connection was lost during COMMIT and whether it committed could not be found out:
    the work must not be retried (it may be stored), only reported as failed."""


class StorageLost(StorageUnavailable):
    """The file at the database path is no longer the one opened: it will not come back
    without a restart, so nothing more is written or read through this Database."""


def is_unavailable(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    message = str(exc).lower()
    return any(marker in message for marker in _UNAVAILABLE_MARKERS)


# The write lock's wait is set in steps of this many milliseconds (see _transaction).
BUSY_STEP_MS = 50


class Database:
    dialect: Literal["sqlite"] = "sqlite"  # the storage seam's name for it (backend.py)

    def __init__(
        self,
        path: Path | str,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        *,
        checkpoints_apart: bool = True,
        wal_bounds: tuple[int, int] = (SOFT_BYTES, HARD_BYTES),
    ) -> None:
        self._path = path
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="sqlite-reader")
        # Dashboards (the read API, the console's data pages) read on a thread of their own:
        # their queries run in SQLite without the GIL, and one thread keeps them to one core,
        # so a page read in a loop cannot take the core the collector's writer needs, nor
        # hold up the key lookups on the readers above.
        self._analytics = ThreadPoolExecutor(1, thread_name_prefix="sqlite-analytics")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._opened: FileIdentity | None = None
        # Why the file was lost, once noticed; it stays lost until the process restarts.
        self.lost: str | None = None
        self._log_released = False
        # Checkpoints the log beside the writer, within `wal_bounds` (soft, hard; bytes). None:
        # the writer's commits checkpoint it themselves, as SQLite does by default (a database
        # in memory has no log; the writer's benchmark measures both).
        self._checkpointer: Checkpointer | None = None
        if checkpoints_apart and str(path) != ":memory:":
            self._checkpointer = Checkpointer(f"{path}-wal", self._open_connection, *wal_bounds)

    @property
    def busy_timeout_ms(self) -> int:
        return self._busy_timeout_ms

    @classmethod
    async def open(
        cls,
        path: Path | str,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        *,
        checkpoints_apart: bool = True,
        wal_bounds: tuple[int, int] = (SOFT_BYTES, HARD_BYTES),
    ) -> Database:
        db = cls(
            path,
            synchronous,
            busy_timeout_ms,
            checkpoints_apart=checkpoints_apart,
            wal_bounds=wal_bounds,
        )
        loop = asyncio.get_running_loop()
        # Open every connection now: a bad path fails at start, not on first write, and all of
        # them hold the same file, so reads keep answering if it is deleted later.
        await loop.run_in_executor(db._writer, db._open_writer)
        opened = threading.Barrier(READER_THREADS)  # one connection on each reader thread
        await asyncio.gather(
            *(
                loop.run_in_executor(db._readers, db._open_reader, opened)
                for _ in range(READER_THREADS)
            )
        )
        await loop.run_in_executor(db._analytics, db._connection)
        return db

    def _open_reader(self, opened: threading.Barrier) -> None:
        self._connection()
        opened.wait(timeout=10)

    def _open_writer(self) -> None:
        checkpointer = self._checkpointer
        limit = None if checkpointer is None else checkpointer.soft_bytes
        self._local.conn = self._open_connection(wal_limit_bytes=limit)
        if str(self._path) != ":memory:":
            self._opened = identity(self._path)
        if checkpointer is not None:
            checkpointer.open()

    def _connection(self) -> sqlite3.Connection:
        """This thread's own connection, opened on first use. Never creates the file: a
        reader thread starting after the file was deleted must not put an empty one there."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open_connection()
        return conn

    def _open_connection(self, wal_limit_bytes: int | None = None) -> sqlite3.Connection:
        conn = connect(
            self._path,
            self._synchronous,
            self._busy_timeout_ms,
            create=False,
            wal_limit_bytes=wal_limit_bytes,
        )
        with self._lock:
            self._connections.append(conn)
        return conn

    def check_file(self) -> str | None:
        """Why the database file is lost (deleted or replaced since it was opened), or None."""
        if self.lost is None and self._opened is not None:
            reason = lost_reason(self._path, self._opened)
            if reason is not None:
                self.lost = reason
                log.error("%s", reason)
        return self.lost

    def _refuse_if_lost(self) -> None:
        reason = self.check_file()
        if reason is not None:
            raise StorageLost(reason)

    def _release_log(self, conn: sqlite3.Connection) -> None:
        """Once the file is lost, fold the write-ahead log into it and leave the log empty.

        The log keeps its name beside the path, and SQLite does not remove it on close once
        the file is gone: whatever is put at the path next (a restored backup) would have
        these pages replayed over it. The lost file keeps them; on Linux it stays readable
        from /proc/<pid>/fd/ until this process exits. Runs on the writer thread.
        """
        if self._log_released or self.lost is None:
            return
        self._log_released = True
        if self._checkpointer is not None:  # its checkpoint would make this one busy
            self._checkpointer.stop()
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            log.warning("could not empty the write-ahead log of the lost database: %s", exc)

    async def transaction(self, work: Work[T], deadline: float | None = None) -> T:
        """Run `work` in one write transaction and commit it. `deadline` (time.monotonic) bounds
        the wait for the write lock; by default the busy timeout from now, so time spent queued
        behind other writes on the writer thread counts too."""
        if deadline is None:
            deadline = time.monotonic() + self._busy_timeout_ms / 1000
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._transaction, work, deadline)

    def _transaction(self, work: Work[T], deadline: float) -> T:
        conn = self._connection()
        if self.check_file() is not None:
            self._release_log(conn)
            self._refuse_if_lost()
        # Zero still tries once: the lock is usually free, and taking it then costs nothing.
        # Rounded down to BUSY_STEP_MS and set only when that changes: busy commits mostly
        # start with the whole timeout left, and the PRAGMA was one of each small commit's
        # dozen statements.
        wait_ms = max(0, int((deadline - time.monotonic()) * 1000))
        wait_ms -= wait_ms % BUSY_STEP_MS
        try:
            if getattr(self._local, "busy_ms", None) != wait_ms:
                conn.execute(f"PRAGMA busy_timeout = {wait_ms}")
                self._local.busy_ms = wait_ms
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot start a write: {exc}") from exc
        try:
            result = work(conn)
            # Last moment before the commit is acknowledged: rows committed into an unlinked
            # file would be lost with it, so they are rolled back instead.
            self._refuse_if_lost()
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, StorageLost):
                self._release_log(conn)
            if is_unavailable(exc):
                raise StorageUnavailable(f"write failed: {exc}") from exc
            raise
        if self._checkpointer is not None:
            self._checkpointer.after_commit(conn)
        return result

    async def read(self, work: Work[T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read, work)

    async def read_analytics(self, work: Work[T]) -> T:
        """A read for a dashboard: on the one analytics thread (see __init__)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._analytics, self._read, work)

    def _read(self, work: Work[T]) -> T:
        # Not refused once the file is lost: reads see the file this process still holds, and
        # the request that needs them is refused at its write (and /health says down).
        try:
            return work(self._connection())
        except sqlite3.OperationalError as exc:
            if is_unavailable(exc):
                raise StorageUnavailable(f"read failed: {exc}") from exc
            raise

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        if self._opened is not None and self.check_file() is not None:
            await loop.run_in_executor(self._writer, lambda: self._release_log(self._connection()))
        for pool in (self._writer, self._readers, self._analytics):
            await loop.run_in_executor(None, pool.shutdown)
        if self._checkpointer is not None:
            await loop.run_in_executor(None, self._checkpointer.close)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
