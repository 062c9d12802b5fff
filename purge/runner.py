"""Run the retention purge: delete expired rows in bounded chunks, log and heartbeat.

Each chunk is one short transaction (at most `chunk_rows` rows, found through an index on
the table's time column), with a pause after it, so the collector's writer never waits
for more than one chunk. A run killed midway leaves every finished chunk done and the rest
for the next run. The job's lease keeps two runs from overlapping.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ingest.clock import now_ms as wall_clock_ms
from ingest.cron import bookkeeping
from ingest.stats import rollups
from ingest.storage import database, postgres_database
from ingest.storage.sql import DATABASE_ERRORS, Conn, dialect_of
from purge.policy import Org, Target, targets

JOB = "purge"
# Measured under collector load (loadtests/bench_purge.py): 5,000-row chunks raised the
# collector's p95 2.7x while purging; 2,000 kept it near 1.5x.
CHUNK_ROWS = 2000
PAUSE_S = 0.02
# After each chunk, rest this many times as long as the chunk took: the write lock is then
# held at most 1 / (1 + PACE) of the time, whatever the disk and the load.
PACE = 1.0
RENEW_EVERY_MS = 30_000  # well inside the lease (bookkeeping.LEASE_MS)
# A long delete (millions of rows at a paced 2,000 per chunk) says how far it has got this
# often, so that an operator can tell a slow run from a stuck one.
PROGRESS_EVERY_S = 1.0
BUSY_RETRIES = 5

Progress = Callable[[str], None]


class AlreadyRunning(Exception):
    def __init__(self, busy: bookkeeping.Busy) -> None:
        super().__init__(busy.describe(JOB))
        self.busy = busy


@dataclass
class Outcome:
    target: Target
    rows: int
    duration_ms: float


@dataclass
class Report:
    now_ms: int
    dry_run: bool
    run_id: int | None = None
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(o.rows for o in self.outcomes)

    def summary(self) -> str:
        per_table: dict[str, int] = {}
        for outcome in self.outcomes:
            per_table[outcome.target.table] = per_table.get(outcome.target.table, 0) + outcome.rows
        verb = "would delete" if self.dry_run else "deleted"
        parts = ", ".join(f"{table} {rows}" for table, rows in per_table.items() if rows)
        return f"{verb} {self.total} rows" + (f" ({parts})" if parts else "")


_PROPERTY_IDS = {
    "sqlite": "group_concat(p.id)",
    "postgres": "string_agg(CAST(p.id AS TEXT), ',')",
}


def load_orgs(conn: Conn) -> list[Org]:
    rows = conn.execute(
        f"SELECT o.id, o.plan, {_PROPERTY_IDS[dialect_of(conn)]} FROM orgs AS o"
        " LEFT JOIN projects AS j ON j.org_id = o.id"
        " LEFT JOIN properties AS p ON p.project_id = j.id GROUP BY o.id, o.plan"
    ).fetchall()
    return [
        Org(org_id, plan, tuple(int(i) for i in ids.split(",")) if ids else ())
        for org_id, plan, ids in rows
    ]


def _scopes(target: Target) -> list[tuple[str, tuple[int, ...]]]:
    """(WHERE clause, parameters) for each index range the target covers."""
    if target.property_ids is None:
        return [(f"{target.time_column} < ?", (target.cutoff,))]
    return [
        (f"property_id = ? AND {target.time_column} < ?", (prop, target.cutoff))
        for prop in target.property_ids
    ]


def count(conn: Conn, target: Target) -> int:
    return sum(
        conn.execute(f"SELECT count(*) FROM {target.table} WHERE {where}", params).fetchone()[0]
        for where, params in _scopes(target)
    )


def row_key(conn: Conn, table: str) -> str:
    """What picks a chunk's rows: SQLite's rowid (the id where the table has one); on
    PostgreSQL the id of a rolled-up table (the read API's rollups take the ids out), else the
    row's ctid, as no purged table without an id has a one-column key."""
    if dialect_of(conn) == "sqlite":
        return "rowid"
    return "id" if table in rollups.ROLLED_UP_TABLES else "ctid"


def _is_unavailable(exc: BaseException) -> bool:
    """A lock that did not come in time, a deadlock with the collector's writer: try again."""
    return database.is_unavailable(exc) or postgres_database.is_unavailable(exc)


def _chunk(conn: Conn, pick: str, params: tuple[int, ...], table: str, key: str) -> int:
    delete_sql = f"DELETE FROM {table} WHERE {key} IN ({pick})"
    for attempt in range(BUSY_RETRIES + 1):
        try:
            conn.execute("BEGIN IMMEDIATE")
            if table in rollups.ROLLED_UP_TABLES:
                # The read API's rollups lose the rows in the same transaction: exact after a
                # purge, whatever bucket the rows' own times put them in.
                ids = [row[0] for row in conn.execute(pick, params).fetchall()]
                rollups.subtract(conn, table, ids)
                if dialect_of(conn) == "sqlite":  # the same rows: nobody else writes meanwhile
                    deleted = conn.execute(delete_sql, params).rowcount
                else:  # exactly those taken out (another statement, another snapshot)
                    deleted = conn.execute(
                        f"DELETE FROM {table} WHERE {key} = ANY(?)", (ids,)
                    ).rowcount
                if deleted != len(ids):
                    raise RuntimeError(f"{table}: picked {len(ids)} rows but deleted {deleted}")
            else:
                deleted = conn.execute(delete_sql, params).rowcount
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                with contextlib.suppress(*DATABASE_ERRORS):  # a lost connection has none
                    conn.execute("ROLLBACK")
            if not _is_unavailable(exc) or attempt == BUSY_RETRIES:
                raise
            time.sleep(0.1 * (attempt + 1))
            continue
        return deleted
    raise AssertionError("unreachable")


def delete(
    conn: Conn,
    target: Target,
    chunk_rows: int,
    pause_s: float,
    between_chunks: Callable[[], None],
    pace: float = PACE,
    deleted_so_far: Callable[[int], None] = lambda rows: None,
) -> int:
    deleted = 0
    for where, params in _scopes(target):
        # A read first: most scopes have nothing expired on most days, and a read takes no
        # write lock, so the collector's writer is not made to wait (and back off) for nothing.
        probe = f"SELECT 1 FROM {target.table} WHERE {where} LIMIT 1"
        if conn.execute(probe, params).fetchone() is None:
            continue
        key = row_key(conn, target.table)
        pick = f"SELECT {key} FROM {target.table} WHERE {where} LIMIT ?"
        while True:
            started = time.perf_counter()
            rows = _chunk(conn, pick, (*params, chunk_rows), target.table, key)
            deleted += rows
            if rows < chunk_rows:
                break
            deleted_so_far(deleted)
            between_chunks()
            # let the collector's writer in
            time.sleep(max(pause_s, (time.perf_counter() - started) * pace))
    return deleted


def run_purge(
    conn: Conn,
    now_ms: int,
    *,
    dry_run: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    pause_s: float = PAUSE_S,
    pace: float = PACE,
    progress: Progress = lambda line: None,
    clock: Callable[[], int] = wall_clock_ms,
    progress_every_s: float = PROGRESS_EVERY_S,
) -> Report:
    """Purge what is expired at `now_ms`. Raises AlreadyRunning when another run holds the
    lock. A dry run only counts: it writes nothing, not even a heartbeat."""
    report = Report(now_ms, dry_run)
    planned = targets(now_ms, load_orgs(conn))
    if dry_run:
        for target in planned:
            started = time.perf_counter()
            rows = count(conn, target)
            report.outcomes.append(Outcome(target, rows, (time.perf_counter() - started) * 1000))
            if rows:
                progress(_line(target, rows, "would delete"))
        return report

    holder = bookkeeping.holder_id()
    busy = bookkeeping.acquire(conn, JOB, holder, clock())
    if busy is not None:
        raise AlreadyRunning(busy)
    run_id = report.run_id = bookkeeping.start_run(conn, JOB, holder, clock())
    renewed = [clock()]

    def renew() -> None:
        if clock() - renewed[0] >= RENEW_EVERY_MS:
            bookkeeping.renew(conn, JOB, holder, clock())
            renewed[0] = clock()

    log_rows: list[tuple[object, ...]] = []
    said = [time.monotonic()]

    def so_far(position: int, target: Target) -> Callable[[int], None]:
        def say(rows: int) -> None:
            if time.monotonic() - said[0] >= progress_every_s:
                said[0] = time.monotonic()
                progress(
                    f"{_scope(target)}: {rows} rows deleted so far"
                    f" (step {position} of {len(planned)})"
                )

        return say

    try:
        for position, target in enumerate(planned, 1):
            renew()
            started = time.perf_counter()
            rows = delete(conn, target, chunk_rows, pause_s, renew, pace, so_far(position, target))
            duration_ms = (time.perf_counter() - started) * 1000
            report.outcomes.append(Outcome(target, rows, duration_ms))
            log_rows.append(
                (run_id, target.table, target.org_id, target.plan, target.cutoff, rows,
                 duration_ms, clock())
            )  # fmt: skip
            if rows:
                progress(_line(target, rows, f"deleted in {duration_ms / 1000:.1f} s:"))
    except BaseException as exc:
        _write_log(conn, log_rows)  # what was done before the failure
        bookkeeping.finish_run(conn, run_id, clock(), error=f"{type(exc).__name__}: {exc}")
        bookkeeping.release(conn, JOB, holder)
        raise
    _write_log(conn, log_rows)
    bookkeeping.finish_run(conn, run_id, clock(), summary=report.summary())
    bookkeeping.release(conn, JOB, holder)
    return report


def _write_log(conn: Conn, rows: list[tuple[object, ...]]) -> None:
    """The run's purge log in one transaction: one write instead of one per table and org."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO purge_log (run_id, table_name, org_id, plan, cutoff, rows_deleted,"
        " duration_ms, logged_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")


def _scope(target: Target) -> str:
    scope = f"org {target.org_id} ({target.plan})" if target.org_id else "all"
    return f"{target.table}, {scope}, older than {target.retention_days} days"


def _line(target: Target, rows: int, verb: str) -> str:
    return f"{_scope(target)}: {verb} {rows} rows"
