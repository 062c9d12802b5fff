"""Heartbeats (`cron_runs`) and leases (`cron_leases`): a job runs once at a time, every run
leaves a record, and a run whose process died is noticed and taken over at once."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

from ingest.cron.jobs import JobState
from ingest.storage.sql import Conn, returning_id

LEASE_MS = 5 * 60_000  # renewed as the run makes progress


def holder_id() -> str:
    """host:pid:nonce: one run, so that two runs in one process also exclude each other."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def holder_alive(holder: str) -> bool:
    """A holder on this host is alive while its process is; another host's, until its lease
    expires."""
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


@dataclass(frozen=True)
class Busy:
    holder: str
    expires_at: int


def acquire(conn: Conn, job: str, holder: str, now_ms: int) -> Busy | None:
    """Take the job's lease, or say who holds it. Marks a dead holder's run as interrupted."""
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
            if run_id is not None:
                conn.execute(
                    "UPDATE cron_runs SET status = 'failed', finished_at = ?, error = ?"
                    " WHERE id = ? AND status = 'running'",
                    (now_ms, f"interrupted: {held_by} stopped before finishing", run_id),
                )
        conn.execute(
            "INSERT INTO cron_leases (job, holder, run_id, expires_at) VALUES (?, ?, NULL, ?)"
            " ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, run_id = NULL,"
            " expires_at = excluded.expires_at",
            (job, holder, now_ms + LEASE_MS),
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return None


def renew(conn: Conn, job: str, holder: str, now_ms: int) -> None:
    conn.execute(
        "UPDATE cron_leases SET expires_at = ? WHERE job = ? AND holder = ?",
        (now_ms + LEASE_MS, job, holder),
    )


def release(conn: Conn, job: str, holder: str) -> None:
    conn.execute("DELETE FROM cron_leases WHERE job = ? AND holder = ?", (job, holder))


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
    """The job's runs as the scheduler and health see them. A `running` heartbeat whose process
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
    alive = [
        started
        for started, holder in conn.execute(
            "SELECT started_at, holder FROM cron_runs WHERE job = ? AND status = 'running'",
            (job,),
        )
        if holder_alive(holder)
    ]
    first_migration = conn.execute(
        "SELECT applied_at FROM d1_migrations ORDER BY id LIMIT 1"
    ).fetchone()
    last_status, last_error = (last[1], last[2]) if last else (None, None)
    if last is not None and last_status == "running" and not holder_alive(last[3]):
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
    ('2026-11-20 04:00:00'), as wrangler writes it too; anything unreadable is unknown."""
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1000)
