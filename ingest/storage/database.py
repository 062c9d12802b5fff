"""One writer thread per database file; reads on a small pool of reader threads.

Handlers never write: they hand a function to `Database.transaction`, which runs it whole on
the writer thread inside BEGIN IMMEDIATE and commits before the awaiting coroutine resumes
(Datasette's pattern). A transaction is one hop between the event loop and the thread: with a
statement-per-hop async driver, each hop also waits for a busy event loop to notice it, which
made a group commit several times slower (see the collector's benchmark notes).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from ingest.storage.connection import BUSY_TIMEOUT_MS, connect

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]
READER_THREADS = 2

# Conditions that pass with time or operator action, as opposed to bugs in our SQL.
_UNAVAILABLE_MARKERS = ("locked", "busy", "disk i/o", "unable to open", "readonly", "full")


class StorageUnavailable(Exception):
    """The database could not take the work now (locked past busy_timeout, disk, I/O)."""


def is_unavailable(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    message = str(exc).lower()
    return any(marker in message for marker in _UNAVAILABLE_MARKERS)


class Database:
    def __init__(
        self,
        path: Path | str,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> None:
        self._path = path
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="sqlite-reader")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @classmethod
    async def open(
        cls,
        path: Path | str,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> Database:
        db = cls(path, synchronous, busy_timeout_ms)
        # Open the writer's connection now, so a bad path fails at start, not on first write.
        await asyncio.get_running_loop().run_in_executor(db._writer, db._connection)
        return db

    def _connection(self) -> sqlite3.Connection:
        """This thread's own connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self._path, self._synchronous, self._busy_timeout_ms)
            with self._lock:
                self._connections.append(conn)
        return conn

    async def transaction(self, work: Work[T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._transaction, work)

    def _transaction(self, work: Work[T]) -> T:
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot start a write: {exc}") from exc
        try:
            result = work(conn)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if is_unavailable(exc):
                raise StorageUnavailable(f"write failed: {exc}") from exc
            raise
        return result

    async def read(self, work: Work[T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read, work)

    def _read(self, work: Work[T]) -> T:
        try:
            return work(self._connection())
        except sqlite3.OperationalError as exc:
            if is_unavailable(exc):
                raise StorageUnavailable(f"read failed: {exc}") from exc
            raise

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        for pool in (self._writer, self._readers):
            await loop.run_in_executor(None, pool.shutdown)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
