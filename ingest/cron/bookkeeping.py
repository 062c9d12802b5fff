"""Heartbeats (`cron_runs`) and leases (`cron_leases`): a job runs once at a time, every run
leaves a record, and a run whose process died is noticed and taken over at once.

SQLite (one machine): the lease row names its holder (host:pid:nonce); a holder on this host is
alive while its process is, another host's until the lease expires. PostgreSQL (several nodes):
the lease is `pg_try_advisory_lock` on the run's own connection, held for the run and released
after; a node that dies takes its session with it, so the lock is free at once, wherever the
node ran. The `cron_leases` row is then only the visible record (health and the console show
who holds it); the lock decides.

A run started by a scheduler (`scheduled()`) checks again, once it holds the lease, that the
job is still due: another node may have finished this period's run a moment after this one
looked. So every period gets exactly one run across all the nodes' schedulers.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import zlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

from ingest.cron.jobs import JOBS, JobState, due
from ingest.storage.sql import DATABASE_ERRORS, Conn, dialect_of, returning_id

LEASE_MS = 5 * 60_000  # renewed as the run makes progress
# The advisory locks of the cron jobs are the two-key form (this space, the job's number), so
# they never meet the migrations' one-key lock; pg_locks shows them as classid/objid.
LOCK_SPACE = 0x6F707469  # "opti"

# Set by the scheduler around its runs (see the module doc).
_SCHEDULED: ContextVar[bool] = ContextVar("optiview_scheduled_run", default=False)


@contextlib.contextmanager
def scheduled() -> Iterator[None]:
    """Runs started inside go ahead only if their job is still due once they hold the lease."""
    token = _SCHEDULED.set(True)
    try:
        yield
    finally:
        _SCHEDULED.reset(token)


def holder_id() -> str:
    """host:pid:nonce: one run, so that two runs in one process also exclude each other."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def holder_alive(holder: str) -> bool:
    """SQLite: a holder on this host is alive while its process is; another host's, until its
    lease expires."""
    host, pid = [*holder.split(":"), "", ""][:2]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_key(job: str) -> tuple[int, int]:
    """The job's advisory lock: the same on every node (a stable hash, not Python's)."""
    return LOCK_SPACE, zlib.crc32(job.encode()) & 0x7FFFFFFF


# Whether any session holds the job's lock; `pid = pg_backend_pid()` narrows it to this one.
_LOCK_HELD = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND classid = CAST(? AS oid) AND objid = CAST(? AS oid) AND objsubid = 2{mine})"
)


def lock_held(conn: Conn, job: str, *, by_this_session: bool = False) -> bool:
    mine = " AND pid = pg_backend_pid()" if by_this_session else ""
    return bool(conn.execute(_LOCK_HELD.format(mine=mine), lock_key(job)).fetchone()[0])


def _try_lock(conn: Conn, job: str) -> bool:
    """Take the job's session lock. A session's advisory locks nest, so a second run on the
    same connection would be let in: refused here, as another connection's run is."""
    if lock_held(conn, job, by_this_session=True):
        return False
    return bool(conn.execute("SELECT pg_try_advisory_lock(?, ?)", lock_key(job)).fetchone()[0])


def _unlock(conn: Conn, job: str) -> None:
    conn.execute("SELECT pg_advisory_unlock(?, ?)", lock_key(job))


def let_go(conn: Conn) -> None:
    """After a run, on a connection that lives on (the scheduler's): no transaction left open
    and, on PostgreSQL, none of the jobs' locks kept. A run that failed so badly that it could
    not release its lease would otherwise hold it for as long as the node lives."""
    with contextlib.suppress(*DATABASE_ERRORS):
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if dialect_of(conn) == "postgres":
            conn.execute("SELECT pg_advisory_unlock_all()")


def alive_check(conn: Conn, job: str) -> Callable[[str], bool]:
    """Whether a holder of the job's lease (as written in cron_leases/cron_runs) is alive.
    PostgreSQL: the one named in the lease row, while some session holds the job's lock."""
    if dialect_of(conn) == "sqlite":
        return holder_alive
    row = conn.execute("SELECT holder FROM cron_leases WHERE job = ?", (job,)).fetchone()
    current = row[0] if row is not None and lock_held(conn, job) else None
    return lambda holder: holder == current


@dataclass(frozen=True)
class Busy:
    holder: str
    expires_at: int
    # The period's run is already done (by `holder`): a scheduled run does not repeat it.
    done: bool = False

    def describe(self, job: str) -> str:
        if self.done:
            return f"this period's {job} run is done already ({self.holder})"
        return f"another {job} run holds the lock ({self.holder})"


def acquire(conn: Conn, job: str, holder: str, now_ms: int) -> Busy | None:
    """Take the job's lease, or say who holds it. Marks a dead holder's run as interrupted."""
    if dialect_of(conn) == "postgres":
        return _acquire_postgres(conn, job, holder, now_ms)
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(
            "SELECT holder, run_id, expires_at FROM cron_leases WHERE job = ?", (job,)
        ).fetchone()
        if row is not None and row[0] != holder:
            held_by, run_id, expires_at = row
            if expires_at > now_ms and holder_alive(held_by):
                conn.execute("ROLLBACK")
                return Busy(held_by, expires_at)
            _interrupted(conn, run_id, held_by, now_ms)
        done = _done_already(conn, job, now_ms)
        if done is not None:
            conn.execute("COMMIT")
            return done
        _write_lease(conn, job, holder, now_ms)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return None


def _acquire_postgres(conn: Conn, job: str, holder: str, now_ms: int) -> Busy | None:
    if not _try_lock(conn, job):
        row = conn.execute(
            "SELECT holder, expires_at FROM cron_leases WHERE job = ?", (job,)
        ).fetchone()
        return Busy(row[0], row[1]) if row is not None else Busy("another node", now_ms)
    try:
        conn.execute("BEGIN")
        row = conn.execute(
            "SELECT holder, run_id FROM cron_leases WHERE job = ?", (job,)
        ).fetchone()
        if row is not None and row[0] != holder:
            # We hold the lock, so whoever the row names has lost it: its session ended.
            _interrupted(conn, row[1], row[0], now_ms)
            conn.execute("DELETE FROM cron_leases WHERE job = ?", (job,))
        done = _done_already(conn, job, now_ms)
        if done is None:
            _write_lease(conn, job, holder, now_ms)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        _unlock(conn, job)
        raise
    if done is not None:
        _unlock(conn, job)
    return done


def _interrupted(conn: Conn, run_id: int | None, held_by: str, now_ms: int) -> None:
    if run_id is not None:
        conn.execute(
            "UPDATE cron_runs SET status = 'failed', finished_at = ?, error = ?"
            " WHERE id = ? AND status = 'running'",
            (now_ms, f"interrupted: {held_by} stopped before finishing", run_id),
        )


def _done_already(conn: Conn, job: str, now_ms: int) -> Busy | None:
    """For a scheduled run, under the lease: None while the job is still due, else who ran it
    (the scheduler looked before another node's run of this period finished)."""
    if not _SCHEDULED.get() or due(job_state(conn, job), JOBS[job], now_ms):
        return None
    row = conn.execute(
        "SELECT holder, started_at FROM cron_runs WHERE job = ? ORDER BY started_at DESC, id DESC"
        " LIMIT 1",
        (job,),
    ).fetchone()
    return Busy(row[0] if row else "another run", row[1] if row else now_ms, done=True)


def _write_lease(conn: Conn, job: str, holder: str, now_ms: int) -> None:
    conn.execute(
        "INSERT INTO cron_leases (job, holder, run_id, expires_at) VALUES (?, ?, NULL, ?)"
        " ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, run_id = NULL,"
        " expires_at = excluded.expires_at",
        (job, holder, now_ms + LEASE_MS),
    )


def renew(conn: Conn, job: str, holder: str, now_ms: int) -> None:
    conn.execute(
        "UPDATE cron_leases SET expires_at = ? WHERE job = ? AND holder = ?",
        (now_ms + LEASE_MS, job, holder),
    )


def release(conn: Conn, job: str, holder: str) -> None:
    conn.execute("DELETE FROM cron_leases WHERE job = ? AND holder = ?", (job, holder))
    if dialect_of(conn) == "postgres":
        _unlock(conn, job)


def start_run(conn: Conn, job: str, holder: str, now_ms: int) -> int:
    run_id = returning_id(
        conn,
        "INSERT INTO cron_runs (job, started_at, status, holder) VALUES (?, ?, 'running', ?)",
        (job, now_ms, holder),
    )
    conn.execute(
        "UPDATE cron_leases SET run_id = ? WHERE job = ? AND holder = ?", (run_id, job, holder)
    )
    return run_id


def finish_run(
    conn: Conn,
    run_id: int,
    now_ms: int,
    error: str | None = None,
    summary: str | None = None,
) -> None:
    conn.execute(
        "UPDATE cron_runs SET status = ?, finished_at = ?, error = ?, summary = ? WHERE id = ?",
        ("failed" if error else "ok", now_ms, error, summary, run_id),
    )


def job_state(conn: Conn, job: str) -> JobState:
    """The job's runs as the scheduler and health see them. A `running` heartbeat whose holder
    is gone counts as an interrupted (failed) run, so the next run is due at once."""
    first, last_success = conn.execute(
        "SELECT min(started_at), max(CASE WHEN status = 'ok' THEN started_at END)"
        " FROM cron_runs WHERE job = ?",
        (job,),
    ).fetchone()
    last = conn.execute(
        "SELECT started_at, status, error, holder FROM cron_runs WHERE job = ?"
        " ORDER BY started_at DESC, id DESC LIMIT 1",
        (job,),
    ).fetchone()
    alive_holder = alive_check(conn, job)
    alive = [
        started
        for started, holder in conn.execute(
            "SELECT started_at, holder FROM cron_runs WHERE job = ? AND status = 'running'",
            (job,),
        ).fetchall()
        if alive_holder(holder)
    ]
    first_migration = conn.execute(
        "SELECT applied_at FROM d1_migrations ORDER BY id LIMIT 1"
    ).fetchone()
    last_status, last_error = (last[1], last[2]) if last else (None, None)
    if last is not None and last_status == "running" and not alive_holder(last[3]):
        last_status, last_error = "failed", f"interrupted: {last[3]} stopped before finishing"
    return JobState(
        job=job,
        first_started_at=first,
        last_started_at=last[0] if last else None,
        last_status=last_status,
        last_error=last_error,
        last_success_at=last_success,
        running_since=min(alive) if alive else None,
        service_since=applied_at_ms(first_migration[0]) if first_migration else None,
    )


def applied_at_ms(value: object) -> int | None:
    """d1_migrations.applied_at in ms. It is SQLite's CURRENT_TIMESTAMP, text in UTC
    ('2026-11-20 04:00:00'), as wrangler writes it too, or PostgreSQL's TIMESTAMP in UTC (a
    datetime); anything unreadable is unknown."""
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, str):
        try:
            at = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1000)
