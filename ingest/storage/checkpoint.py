"""The write-ahead log checkpointed beside the writer instead of inside its commits.

SQLite's automatic checkpoint runs in the COMMIT that takes the log past 1000 pages: that
commit copies the log's pages into the database file and waits for two fsyncs, and its
requests wait with it (about 35% of the writer's time at full load, measured). Here the
writer's connection has the automatic checkpoint off, and after each COMMIT the writer looks at
the log's size (one stat): past `soft_bytes` a PASSIVE checkpoint runs on a thread and
connection of its own, which never blocks the writer (a checkpoint copies only what is already
committed, and takes no write lock); then again each time the log has grown by half of
`soft_bytes` more (a busy writer's log restarts seldom, and a checkpoint after every commit
spent more than it saved: 87 in 3 s at 16 events per commit, measured).

The log restarts from its beginning (and `journal_size_limit` cuts its file back to
`soft_bytes`) at the first write after a checkpoint that copied all of it. A writer that never
pauses leaves the thread no moment to catch up, so the log would grow without end: past
`hard_bytes` the writer waits for the thread's checkpoint, if one runs, and checkpoints the
rest itself between two commits (as SQLite's own checkpoint would, only less often, and with
most of the log already copied). A reader holding an old snapshot stops either from
finishing, as it stops SQLite's own.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger("optiview.storage")

SOFT_BYTES = 8 * 1024 * 1024  # about 2000 pages of 4 KiB: the log's usual bound
HARD_BYTES = 64 * 1024 * 1024  # past this the writer checkpoints itself


class Checkpointer:
    def __init__(
        self,
        wal_path: str,
        open_connection: Callable[[], sqlite3.Connection],
        soft_bytes: int = SOFT_BYTES,
        hard_bytes: int = HARD_BYTES,
    ) -> None:
        self.wal_path = wal_path
        self.soft_bytes = soft_bytes
        self.hard_bytes = hard_bytes
        self._open_connection = open_connection
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-checkpoint")
        self._conn: sqlite3.Connection | None = None
        self._running: Future[None] | None = None
        self._started_at = 0  # the log's size when the last checkpoint was started
        self._closed = False
        self.background = 0  # checkpoints run on the thread, and by the writer itself
        self.inline = 0

    def open(self) -> None:
        """Open the thread's connection now, while the file is surely the one the writer has."""
        self._thread.submit(self._connection).result()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open_connection()
        return self._conn

    def wal_size(self) -> int:
        try:
            return os.stat(self.wal_path).st_size
        except FileNotFoundError:
            return 0

    def after_commit(self, writer: sqlite3.Connection) -> None:
        """On the writer thread, after a COMMIT: start or run a checkpoint if the log is long."""
        size = self.wal_size()
        if self._closed or size <= self.soft_bytes:
            return
        if size > self.hard_bytes:
            self.wait()
            self.inline += 1
            try:
                writer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:  # the COMMIT stands; the next one tries again
                log.warning("checkpointing the write-ahead log failed: %s", exc)
            return
        if size < self._started_at:  # the log restarted, its file cut back
            self._started_at = 0
        if size <= self._started_at + self.soft_bytes // 2:
            return
        if self._running is None or self._running.done():
            self._started_at = size
            self._running = self._thread.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        try:
            self._connection().execute("PRAGMA wal_checkpoint(PASSIVE)")
            self.background += 1
        except sqlite3.Error as exc:  # the log waits for the next one (or the writer's own)
            log.warning("checkpointing the write-ahead log failed: %s", exc)

    def wait(self) -> None:
        """Until the thread's checkpoint, if one runs, has finished."""
        running = self._running
        if running is not None:
            running.result()

    def stop(self) -> None:
        """No more checkpoints on the thread (the file is lost, or the database closes)."""
        self._closed = True
        self.wait()

    def close(self) -> None:
        self.stop()
        self._thread.shutdown()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
