"""The PostgreSQL twin of `Database`: one writer thread, whole transactions in one hop.

The writer thread holds one synchronous psycopg connection and runs each transaction there,
BEGIN to COMMIT, while the event loop awaits a single future: statement-per-hop async drivers
made the group commit several times slower (see database.py). Readers and the analytics reader
have connections of their own, one per thread, each read in one read-only snapshot.

A transaction's deadline becomes its `lock_timeout`, so a write that waits for a lock gives up
with the deadline, as SQLite's busy_timeout does. Conditions that pass with time or operator
action (a lost connection, a server shutting down, a deadlock, a serialization failure, a lock
or statement timeout, a full disk, too many connections: psycopg's OperationalError family)
become `StorageUnavailable`; a connection found broken is dropped and the next call opens a
new one. Other errors (bad SQL, constraint violations) propagate unchanged.

A connection lost during COMMIT leaves its outcome unknown (the server may have committed and
died before answering): retrying would store the work twice. Each write transaction learns its
transaction id with its BEGIN (no extra round trip), and after such a loss a new connection
asks `pg_xact_status`: committed is success, aborted is a plain StorageUnavailable (safe to
retry); when even that cannot be asked, `CommitOutcomeUnknown` (never retried). Needs
PostgreSQL 13 or later.

`synchronous_commit` is on: COMMIT returns once the commit is flushed to the server's disk,
so an acknowledged event survives a server crash. Off trades the last commits before a server
crash (never a corruption) for speed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

import psycopg

from ingest.storage.connection import BUSY_TIMEOUT_MS
from ingest.storage.database import READER_THREADS, CommitOutcomeUnknown, StorageUnavailable
from ingest.storage.sql import KEEPALIVES, PgConn, prepare_postgres

log = logging.getLogger("optiview.storage")

T = TypeVar("T")
Connection = psycopg.Connection[Any]
# Work functions get the seam's connection (sql.py); `.raw` is the psycopg one, for COPY.
Work = Callable[[PgConn], T]

WRITE_LANES = 2
# Seen in pg_stat_activity, so an operator can tell the service's sessions apart.
WRITER_NAME = "optiview-writer"
READER_NAME = "optiview-reader"
UPKEEP_NAME = "optiview-upkeep"
# libpq does not honour less than 2 s.
MIN_CONNECT_TIMEOUT_S = 2
# How long a lost COMMIT's outcome is asked after (its backend may still be finishing it).
OUTCOME_WAIT_S = 2.0


def is_unavailable(exc: BaseException) -> bool:
    """Whether the error is the server's state rather than our SQL. Deadlocks, serialization
    failures, lock_timeout (LockNotAvailable), statement_timeout (QueryCanceled), AdminShutdown
    and lost connections are all OperationalError subclasses in psycopg."""
    return isinstance(exc, psycopg.OperationalError)


class PostgresDatabase:
    dialect: Literal["postgres"] = "postgres"

    def __init__(
        self,
        url: str,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        synchronous_commit: bool = True,
    ) -> None:
        self._url = url
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous_commit = synchronous_commit
        # Two writer threads, each with its own connection: a node's next group commit is
        # written while the last one waits for its COMMIT to reach the disk (the collector keeps
        # at most WRITE_LANES flushes in flight; collect/writer.py).
        self._writer = ThreadPoolExecutor(WRITE_LANES, thread_name_prefix="pg-writer")
        self._readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="pg-reader")
        # Dashboards read on a thread of their own, as on SQLite (see database.py).
        self._analytics = ThreadPoolExecutor(1, thread_name_prefix="pg-analytics")
        # Upkeep writes (the read API's rollup fold) on a connection of their own, so that the
        # group commit never waits behind them.
        self._upkeep = ThreadPoolExecutor(1, thread_name_prefix="pg-upkeep")
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._lock = threading.Lock()
        # A server has no file to lose: a lost connection is reconnected instead.
        self.lost: str | None = None

    @property
    def busy_timeout_ms(self) -> int:
        return self._busy_timeout_ms

    @classmethod
    async def open(
        cls, url: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS, synchronous_commit: bool = True
    ) -> PostgresDatabase:
        """Connect the writer now, so a wrong URL or password fails at start."""
        db = cls(url, busy_timeout_ms, synchronous_commit)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(db._writer, db._connection, WRITER_NAME)
        except BaseException:
            await db.close()
            raise
        return db

    def check_file(self) -> str | None:
        """Why the storage is gone for good: never, for a server (see `lost`)."""
        return None

    def _connection(self, name: str) -> Connection:
        """This thread's connection, opened on first use and again after one was lost."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed:
            return conn
        try:
            conn = psycopg.connect(
                self._url,
                autocommit=True,  # BEGIN and COMMIT are sent explicitly, in one hop each
                application_name=name,
                connect_timeout=max(MIN_CONNECT_TIMEOUT_S, math.ceil(self._busy_timeout_ms / 1000)),
                **KEEPALIVES,  # a silent dead server is noticed, not waited for forever
            )
            prepare_postgres(conn)
            conn.execute(f"SET synchronous_commit = {'on' if self._synchronous_commit else 'off'}")
        except psycopg.OperationalError as exc:
            raise StorageUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def _drop(self, conn: Connection) -> None:
        """Forget a broken connection; the thread opens a new one on its next call."""
        self._local.conn = None
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
        conn.close()

    def _end(self, conn: Connection) -> None:
        """After a failure inside a transaction: roll back, or drop the connection if it is
        gone (a rollback on a dead connection fails too)."""
        if conn.closed or conn.broken:
            self._drop(conn)
            return
        try:
            conn.execute("ROLLBACK")
        except psycopg.Error as exc:
            log.warning("rollback failed, reconnecting: %s", exc)
            self._drop(conn)

    async def transaction(self, work: Work[T], deadline: float | None = None) -> T:
        """Run `work` in one write transaction and commit it; `deadline` (time.monotonic)
        bounds lock waits, by default the busy timeout from now (see Database.transaction)."""
        if deadline is None:
            deadline = time.monotonic() + self._busy_timeout_ms / 1000
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._transaction, work, deadline)

    async def upkeep(self, work: Work[T], deadline: float | None = None) -> T:
        """`transaction`, on a thread and connection of their own: for periodic upkeep (the
        rollup fold) that must not hold up the group commit's writes."""
        if deadline is None:
            deadline = time.monotonic() + self._busy_timeout_ms / 1000
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._upkeep, self._transaction, work, deadline, UPKEEP_NAME
        )

    def _begin(self, name: str, begin: str) -> tuple[Connection, psycopg.Cursor[Any]]:
        """This thread's connection with `begin` sent on it, and the cursor of its results."""
        reused = getattr(self._local, "conn", None) is not None
        conn = self._connection(name)
        try:
            return conn, conn.execute(begin)
        except psycopg.OperationalError as exc:
            if not (conn.closed or conn.broken):
                raise StorageUnavailable(f"cannot start a transaction: {exc}") from exc
            self._drop(conn)
            if not reused:
                raise StorageUnavailable(f"cannot start a transaction: {exc}") from exc
            # An idle connection died (server restart, idle timeout, a killed backend): nothing
            # of this transaction was sent yet, so it is safe to start it on a new one.
            log.warning("a PostgreSQL connection was lost, reconnecting: %s", exc)
            conn = self._connection(name)
            try:
                return conn, conn.execute(begin)
            except psycopg.OperationalError as again:
                self._end(conn)
                raise StorageUnavailable(f"cannot start a transaction: {again}") from again

    def _transaction(self, work: Work[T], deadline: float, name: str = WRITER_NAME) -> T:
        # lock_timeout = 0 would mean no limit: one millisecond still tries the lock once.
        wait_ms = max(1, int((deadline - time.monotonic()) * 1000))
        conn, begun = self._begin(
            name,
            f"BEGIN; SET LOCAL lock_timeout = {wait_ms}; SELECT pg_current_xact_id()::text",
        )
        while begun.nextset():  # past BEGIN's and SET's results, to the SELECT's
            pass
        xid = str(begun.fetchone()[0])  # type: ignore[index]
        try:
            result = work(PgConn(conn))
        except BaseException as exc:
            self._end(conn)
            if is_unavailable(exc):
                raise StorageUnavailable(f"write failed: {exc}") from exc
            raise
        try:
            conn.execute("COMMIT")
        except BaseException as exc:
            lost = conn.closed or conn.broken
            self._end(conn)
            if not is_unavailable(exc):
                raise
            if not lost:  # refused by the server (a serialization failure): rolled back
                raise StorageUnavailable(f"write failed: {exc}") from exc
            if self._committed(xid, exc, name):
                log.warning("a COMMIT's connection was lost after it committed: %s", exc)
                return result
            raise StorageUnavailable(f"write failed, rolled back: {exc}") from exc
        return result

    def _committed(self, xid: str, lost: BaseException, name: str = WRITER_NAME) -> bool:
        """Whether a transaction whose COMMIT lost its connection committed, asked on a new
        connection (its backend may still be ending it: asked until OUTCOME_WAIT_S)."""
        give_up = time.monotonic() + OUTCOME_WAIT_S
        while True:
            why = self._ask_status(xid, name)
            if why in ("committed", "aborted"):
                return why == "committed"
            if time.monotonic() >= give_up:
                raise CommitOutcomeUnknown(
                    f"the connection was lost during COMMIT ({lost}) and whether it committed"
                    f" cannot be told ({why})"
                ) from lost
            time.sleep(0.05)

    def _ask_status(self, xid: str, name: str = WRITER_NAME) -> str:
        """pg_xact_status of the transaction ('committed', 'aborted', 'in progress'), or why
        it could not be asked."""
        try:
            conn = self._connection(name)
        except StorageUnavailable as exc:
            return str(exc)
        try:
            row = conn.execute("SELECT pg_xact_status(%s::xid8)", (xid,)).fetchone()
        except psycopg.OperationalError as exc:
            self._end(conn)
            return str(exc)
        return str(row[0]) if row else "unknown"

    async def read(self, work: Work[T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read, work)

    async def read_analytics(self, work: Work[T]) -> T:
        """A read for a dashboard: on the one analytics thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._analytics, self._read, work)

    def _read(self, work: Work[T]) -> T:
        # One snapshot for the whole read, as the SQLite readers get with BEGIN: a page's
        # queries agree with each other. Read-only, so a write slipped into a read fails.
        conn, _ = self._begin(READER_NAME, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            result = work(PgConn(conn))
            conn.execute("COMMIT")
        except BaseException as exc:
            self._end(conn)
            if is_unavailable(exc):
                raise StorageUnavailable(f"read failed: {exc}") from exc
            raise
        return result

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        for pool in (self._writer, self._readers, self._analytics, self._upkeep):
            await loop.run_in_executor(None, pool.shutdown)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
